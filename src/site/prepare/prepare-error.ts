/** A user-facing refusal: what is wrong and what to do. */
export class PrepareError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'PrepareError';
  }
}
