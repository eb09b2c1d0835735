/** A dataset that cannot be scanned at all (missing folder, unreadable or malformed manifest). */
export class DatasetError extends Error {
  /** For UIs and logs: every dataset-level failure shares it; the message says which. */
  readonly code = 'dataset_unreadable';
  constructor(
    message: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DatasetError';
  }
}
