import { SiteCallResult, SiteEvent, type SiteApiClient } from '../../shared/site-api';
import { SiteCallError } from './call-error';

const TOKEN_HEADER = 'x-fgl-token';

/**
 * The site API over the headless agent's HTTP: `POST /api/call/<method>` with the session token
 * header, events over Server-Sent Events (`GET /api/events?token=…`, since EventSource cannot send
 * headers). A lost event stream is reported as a `backend` event so the UI shows it.
 */
export function createHttpSiteClient(token: string | null): SiteApiClient {
  const listeners = new Set<(e: SiteEvent) => void>();
  let source: EventSource | null = null;
  let lost = false;
  const dispatch = (e: SiteEvent) => {
    for (const l of listeners) l(e);
  };

  const openStream = () => {
    if (!token) return;
    source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    source.onmessage = (m: MessageEvent<string>) => {
      let json: unknown;
      try {
        json = JSON.parse(m.data);
      } catch {
        return;
      }
      const parsed = SiteEvent.safeParse(json);
      if (parsed.success) dispatch(parsed.data);
    };
    source.onopen = () => {
      // 'ready', not 'restarted': the agent (and its jobs) may have kept running while we were cut off.
      if (lost)
        dispatch({
          type: 'backend',
          state: 'ready',
          message: 'Reconnected to the site agent. Progress sent while disconnected was missed.',
        });
      lost = false;
    };
    source.onerror = () => {
      if (lost) return;
      lost = true;
      const closed = source?.readyState === EventSource.CLOSED;
      dispatch({
        type: 'backend',
        state: 'crashed',
        message: closed
          ? 'The site agent refused the event stream (it may have been restarted with a new session). Open the new link that `fgl site ui` printed.'
          : 'Lost the connection to the site agent; retrying. Is `fgl site ui` still running?',
      });
    };
  };

  return {
    async call(method, req) {
      if (!token)
        throw new SiteCallError(
          'no_session_token',
          "This page was opened without the agent's session token.",
          'Open the full link that `fgl site ui` printed (it ends with #token=…).',
        );
      let res: Response;
      try {
        res = await fetch(`/api/call/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
          body: JSON.stringify(req ?? {}),
          cache: 'no-store',
          credentials: 'omit',
        });
      } catch (err) {
        throw new SiteCallError(
          'agent_unreachable',
          `Cannot reach the site agent: ${(err as Error).message}`,
          'Check that `fgl site ui` is still running, then reload this page.',
        );
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        throw new SiteCallError(
          'bad_response',
          `The site agent answered ${method} with HTTP ${res.status} and no readable body.`,
          'Check the terminal running `fgl site ui` for errors.',
        );
      }
      const parsed = SiteCallResult.safeParse(body);
      if (!parsed.success)
        throw new SiteCallError(
          'bad_response',
          `The site agent answered ${method} with an unexpected body (HTTP ${res.status}).`,
          'The UI and the agent may be from different FGL versions: rebuild with `npm run build`.',
        );
      if (parsed.data.ok) return parsed.data.data as never;
      throw new SiteCallError(
        parsed.data.error.code,
        parsed.data.error.message,
        parsed.data.error.hint,
      );
    },
    on(listener) {
      listeners.add(listener);
      if (!source) openStream();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && source) {
          source.close();
          source = null;
          lost = false;
        }
      };
    },
  };
}
