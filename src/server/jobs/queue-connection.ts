import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'bullmq';

/** The part of an ioredis client this code touches (BullMQ wraps the rest). */
type RedisClient = RedisKeys & {
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: 'error', f: (e: Error) => void): unknown;
};
/** Plain key commands, for the server's own bookkeeping beside BullMQ's keys. */
export type RedisKeys = {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
};
type RedisCtor = new (url: string, opts: Record<string, unknown>) => RedisClient;

/**
 * ioredis, BullMQ's Redis client. BullMQ 6 lists it as an optional peer and, from ESM, cannot load
 * it by itself, so the server and the workers construct the clients they hand to BullMQ.
 */
function loadIORedis(): RedisCtor {
  try {
    const mod = createRequire(import.meta.url)('ioredis') as RedisCtor & { default?: RedisCtor };
    return mod.default ?? mod;
  } catch {
    throw new Error(
      'the Redis queue needs the ioredis package (BullMQ\'s Redis client), which is not installed: add it with `npm install ioredis`',
    );
  }
}

export function checkQueueUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue must be a Redis URL like redis://127.0.0.1:6379 (got "${url}")`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--queue must be a redis:// or rediss:// URL (got "${u.protocol}//…")`);
  return u;
}

export type RedisHandle = {
  /** What BullMQ's Queue / Worker take as `connection`. */
  connection: ConnectionOptions;
  keys: RedisKeys;
  /** Close the client (after the Queue / Worker using it closed). */
  close(): Promise<void>;
};

/**
 * A Redis connection for BullMQ from a `redis://` / `rediss://` URL. Commands wait (no per-request
 * retry limit, offline queue on) while Redis is away, so a Redis restart pauses the queue instead
 * of failing work; ioredis reconnects with backoff.
 */
export function openRedis(url: string, onError: (e: Error) => void): RedisHandle {
  checkQueueUrl(url);
  const Redis = loadIORedis();
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(200 * times, 2_000),
  });
  client.on('error', onError);
  return {
    connection: client as unknown as ConnectionOptions,
    keys: client,
    async close() {
      await Promise.race([
        client.quit().catch(() => client.disconnect()),
        new Promise((r) => setTimeout(r, 1_000).unref()),
      ]);
      client.disconnect();
    },
  };
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
