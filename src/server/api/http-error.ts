/**
 * An error with its HTTP status and API error code; the error handler renders it as
 * `{error:{code,message,hint}}` (src/shared/api-error.ts). `hint` says what to do about it.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * 404 for anything the caller may not see as well as for what does not exist (other sites'
 * packages, studies a site is not enrolled in): a 403 would confirm that the thing exists.
 */
export function notFound(code: string, message: string, hint?: string): HttpError {
  return new HttpError(404, code, message, hint);
}
