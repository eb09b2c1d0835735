import type { DestinationStream } from 'pino';

export const LOG_FORMATS = ['human', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown in the line's head instead of as key=value. */
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v', 'reqId', 'req', 'res', 'responseTime', 'err']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/**
 * One pino JSON line as a person reads it: `12:03:04 info  listening url=http://…`, a request as
 * `[req-1] incoming request: POST /v1/enroll` … `[req-1] request completed: 201 in 3 ms`, an error
 * with its message. Unparseable input is
 * passed through unchanged, so nothing is ever lost.
 */
export function humanLogLine(jsonLine: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const t = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 19) : '--:--:--';
  const level = (LEVELS[o.level as number] ?? String(o.level)).padEnd(5);
  const req = o.req as { method?: string; url?: string } | undefined;
  const res = o.res as { statusCode?: number } | undefined;
  let text = typeof o.msg === 'string' ? o.msg : '';
  if (req?.method) text = `${text}: ${req.method} ${req.url ?? ''}`;
  if (res?.statusCode !== undefined) text = `${text}: ${res.statusCode}${typeof o.responseTime === 'number' ? ` in ${Math.round(o.responseTime)} ms` : ''}`;
  if (o.reqId !== undefined) text = `[${String(o.reqId)}] ${text}`;
  const err = o.err as { message?: string; type?: string } | undefined;
  if (err?.message) text = `${text}${text ? ': ' : ''}${err.message}`;
  const fields = Object.entries(o)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${value(v)}`);
  return `${t} ${level} ${text}${fields.length ? `  ${fields.join(' ')}` : ''}\n`;
}

/** A pino destination that writes human lines to `out` (e.g. stderr). */
export function humanLogStream(out: { write(s: string): unknown }): DestinationStream {
  return { write: (line: string) => void out.write(humanLogLine(line)) };
}
