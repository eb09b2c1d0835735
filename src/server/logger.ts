import pino, { type DestinationStream, type Logger } from 'pino';
import { humanLogStream, type LogFormat } from './log-format';

/**
 * Paths pino blanks out of every log line. Secrets should never reach a log call in the first
 * place (no tokens or keys in messages or URLs); this is the second line of defence.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'adminKey',
  '*.adminKey',
  'privateKey',
  '*.privateKey',
  'secret',
  '*.secret',
];

export type LoggerOptions = {
  level?: pino.LevelWithSilent;
  /** Where lines go (default stdout); tests pass a stream to capture and scan them. */
  destination?: DestinationStream;
  /** `json` (pino's lines, for machines) or `human` (one readable line per event); default json. */
  format?: LogFormat;
};

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'fgl-server',
      level: opts.level ?? process.env.FGL_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    opts.format === 'human' ? humanLogStream(opts.destination ?? process.stdout) : (opts.destination ?? pino.destination(1)),
  );
}
