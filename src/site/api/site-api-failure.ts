/** Error with a code the UI can act on; `message` and `hint` are for people. */
export class SiteApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
