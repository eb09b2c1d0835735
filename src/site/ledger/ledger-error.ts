/** A ledger problem the user can act on: what went wrong in `message`, what to do in `hint`. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  constructor(
    /** ledger_too_new | migration_failed | open_failed | not_found | bad_value */
    readonly code: string,
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
