import type { SiteCallResult, SiteEvent } from './site-api';

/**
 * Messages between a shell (Electron main, or the headless agent) and the site backend process.
 * The backend runs the pipeline, evaluation and the ledger; the shell only relays.
 */
export type ToBackend =
  | { type: 'call'; id: number; method: string; req: unknown }
  | { type: 'cancel'; id: number }
  /** `keyEncryptionKey`: base64 of 32 bytes from the OS keychain (safeStorage); null where the OS offers none. */
  | { type: 'configure'; home: string; keyEncryptionKey: string | null };

export type FromBackend =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: SiteCallResult }
  | { type: 'event'; event: SiteEvent };
