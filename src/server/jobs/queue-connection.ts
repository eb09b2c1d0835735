import type { ConnectionOptions } from 'bullmq';

/**
 * BullMQ connection options for a `redis://` / `rediss://` URL. Commands wait (no per-request
 * retry limit) while Redis is away, so a Redis restart pauses the queue instead of failing work.
 */
export function queueConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue must be a Redis URL like redis://127.0.0.1:6379 (got "${url}")`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue must be a redis:// or rediss:// URL (got "${u.protocol}")`);
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true } as ConnectionOptions;
}

/** Lease and retry settings shared by the server (which enqueues) and the workers. */
export type QueueTuning = {
  /** A worker holds a batch this long between lock renewals; a dead worker's batch is taken again after it. */
  lockMs: number;
  /** How often workers look for batches whose lock expired. */
  stalledCheckMs: number;
  /** Attempts per batch (worker errors), with exponential backoff from `backoffMs`. */
  attempts: number;
  backoffMs: number;
};

export const DEFAULT_QUEUE_TUNING: QueueTuning = {
  lockMs: 30_000,
  stalledCheckMs: 15_000,
  attempts: 5,
  backoffMs: 2_000,
};
