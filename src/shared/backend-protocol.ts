import type { SiteCallResult, SiteEvent } from './site-api';

/**
 * Messages between a shell (Electron main, or the headless agent) and the site backend process.
 * The backend runs the pipeline, evaluation and the ledger; the shell only relays.
 */
export type ToBackend =
  | { type: 'call'; id: number; method: string; req: unknown }
  | { type: 'cancel'; id: number }
  | { type: 'configure'; home: string; apiKey: string | null };

export type FromBackend =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: SiteCallResult }
  | { type: 'event'; event: SiteEvent }
  /** The backend asks the shell to keep a new site API key (Electron: safeStorage). */
  | { type: 'store-api-key'; apiKey: string };
