import pino from 'pino';
import { createLogger, type LoggerOptions } from '../server/logger';
import { LOG_FORMATS, type LogFormat } from '../server/log-format';
import { optionalString, UsageError, type CommandContext, type OptionSpec } from './command';

/** `--log-format`, shared by the commands that run the server's logger. */
export const LOG_FORMAT_OPTION: OptionSpec = {
  type: 'string',
  value: 'human|json',
  default: 'human',
  description: 'server log lines on stderr: human (readable, the default) or json (pino lines for log collectors)',
};

export function logFormatOption(ctx: CommandContext): LogFormat {
  const f = optionalString(ctx, 'log-format') ?? 'human';
  if (!(LOG_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--log-format must be human or json, not "${f}"`);
  return f as LogFormat;
}

/** The server logger on stderr (stdout carries only the command's result), in the chosen format. */
export function stderrLogger(ctx: CommandContext, o: Pick<LoggerOptions, 'level'> = {}) {
  const format = logFormatOption(ctx);
  return createLogger({ ...o, format, destination: format === 'json' ? pino.destination(2) : process.stderr });
}
