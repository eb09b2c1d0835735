import type { SiteApiError } from '../../shared/site-api';

/** A failed site API call as the UI sees it, whichever transport carried it. */
export class SiteCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'SiteCallError';
  }
}

/** Anything thrown by a call, as {code, message, hint}: the Electron preload throws plain Errors with code/hint attached. */
export function describeError(err: unknown): SiteApiError {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown; hint?: unknown };
    return {
      code: typeof e.code === 'string' ? e.code : 'error',
      message: typeof e.message === 'string' && e.message !== '' ? e.message : String(err),
      ...(typeof e.hint === 'string' ? { hint: e.hint } : {}),
    };
  }
  return { code: 'error', message: String(err) };
}
