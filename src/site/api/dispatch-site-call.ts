import { formatZodIssues } from '../../shared/zod-issues';
import { isSiteMethod, siteApi, type SiteApiError, type SiteCallResult, type SiteEvent, type SiteHandlers } from '../../shared/site-api';

type Handler = (req: unknown, ctx: { signal: AbortSignal; emit: (e: SiteEvent) => void }) => Promise<unknown>;


/** A thrown error becomes data: its message, a code when it carries one, and its hint. */
export function toApiError(err: unknown): SiteApiError {
  if (err && typeof err === 'object') {
    const e = err as { message?: unknown; code?: unknown; hint?: unknown };
    const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
    const code = typeof e.code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(e.code) ? e.code : 'internal_error';
    return { code, message, ...(typeof e.hint === 'string' ? { hint: e.hint } : {}) };
  }
  return { code: 'internal_error', message: String(err) };
}

/**
 * One site API call, whatever carries it (the agent's HTTP, Electron's utility process): the
 * request is validated against the shared contract before a handler sees it, the answer before
 * the UI does, and errors travel as data. `status` is an HTTP-style hint for transports.
 */
export async function dispatchSiteCall(
  handlers: SiteHandlers,
  method: unknown,
  req: unknown,
  ctx: { signal: AbortSignal; emit: (e: SiteEvent) => void },
): Promise<{ status: number; result: SiteCallResult }> {
  if (!isSiteMethod(method)) return { status: 404, result: { ok: false, error: { code: 'unknown_method', message: `Unknown method ${String(method).slice(0, 100)}` } } };
  const contract = siteApi[method];
  const parsed = contract.req.safeParse(req ?? {});
  if (!parsed.success)
    return { status: 400, result: { ok: false, error: { code: 'invalid_request', message: `Invalid request for ${method}: ${formatZodIssues(parsed.error.issues)}` } } };
  try {
    const data = await (handlers[method] as Handler)(parsed.data, ctx);
    const checked = contract.res.safeParse(data);
    if (checked.success) return { status: 200, result: { ok: true, data: checked.data } };
    return {
      status: 500,
      result: {
        ok: false,
        error: {
          code: 'invalid_response',
          message: `The site backend answered ${method} with data that does not match the contract: ${formatZodIssues(checked.error.issues)}`,
          hint: 'This is a bug in FGL: report it with this message.',
        },
      },
    };
  } catch (err) {
    return { status: 200, result: { ok: false, error: toApiError(err) } };
  }
}
