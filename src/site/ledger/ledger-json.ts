import { LedgerError } from './ledger-error';

/** A JSON object column (options, progress, metrics...): callers validate it with their own schema. */
export type JsonObject = Record<string, unknown>;

/** Re-exported for the repos: the clock's one home is src/shared/clock.ts. */
export type { Clock } from '../../shared/clock';

export function toJson(value: JsonObject | readonly unknown[], what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined)
    throw new LedgerError('bad_value', `${what} is not JSON-serialisable`, 'Pass a plain object.');
  return text;
}

export function fromJsonObject(text: string): JsonObject {
  return JSON.parse(text) as JsonObject;
}
