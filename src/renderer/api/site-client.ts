import type { SiteApiClient } from '../../shared/site-api';
import { takeAgentToken } from './agent-token';
import { createHttpSiteClient } from './http-site-client';

/**
 * The one place that knows which shell the UI runs in: the Electron preload exposes `window.fgl`;
 * without it the page was served by the headless site agent and talks HTTP to it.
 */
export function createSiteClient(): SiteApiClient {
  const bridge = (window as Window & { fgl?: SiteApiClient }).fgl;
  if (bridge) return bridge;
  return createHttpSiteClient(
    takeAgentToken({
      location: window.location,
      storage: window.sessionStorage,
      history: window.history,
    }),
  );
}
