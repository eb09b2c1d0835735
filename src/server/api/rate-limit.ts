import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sameDigest, secretHash } from '../auth/secret-token';
import { HttpError } from './http-error';

/** A token bucket: up to `burst` requests at once, refilled at `perSecond`. */
export const BucketSpec = z.object({
  burst: z.number().int().positive(),
  perSecond: z.number().positive(),
});
export type BucketSpec = z.infer<typeof BucketSpec>;

/**
 * Request rate limits. The defaults are far above what a site does (a round is a handful of
 * requests; a model download one per file) and only stop runaway loops and floods.
 */
export const RateLimitConfig = z.object({
  /** Per API key (site): every request that carries `Authorization: Bearer …`. */
  perSite: BucketSpec.default({ burst: 300, perSecond: 30 }),
  /** Per client address: every request, with or without a key (covers token guessing). */
  perIp: BucketSpec.default({ burst: 600, perSecond: 60 }),
  /**
   * Loopback is the local CLI or a reverse proxy in front of the server: behind a proxy every
   * site shares 127.0.0.1, so a per-address limit there would throttle them all together. The
   * per-key limit still applies; the proxy limits per client address.
   */
  exemptLoopback: z.boolean().default(true),
  /** Buckets kept in memory at most; the least recently used is forgotten first. */
  maxTracked: z.number().int().positive().default(100_000),
});
export type RateLimitConfig = z.infer<typeof RateLimitConfig>;
export type RateLimitInput = z.input<typeof RateLimitConfig>;

type Bucket = { tokens: number; at: number };

/** In-memory token buckets by key (one process; a restart refills every bucket). */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly spec: BucketSpec,
    private readonly maxTracked = 100_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Take one token for `key`: 0 when the request may go ahead, else the seconds until it may. */
  take(key: string): number {
    const now = this.nowMs();
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.spec.burst, b.tokens + ((now - b.at) / 1000) * this.spec.perSecond);
      b.at = now;
      // Re-insert so the Map's order is least-recently-used first.
      this.buckets.delete(key);
    } else {
      b = { tokens: this.spec.burst, at: now };
      if (this.buckets.size >= this.maxTracked) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.spec.perSecond;
  }

  get size(): number {
    return this.buckets.size;
  }
}

const LOOPBACK_IP = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** A body this large is not drained after a 429: the connection is closed instead. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

function bearerKey(header: string | undefined): string | null {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m ? m[1]! : null;
}

function limited(req: FastifyRequest, who: string, spec: BucketSpec, waitS: number): HttpError {
  const retryAfter = Math.max(1, Math.ceil(waitS));
  const headers: Record<string, string> = { 'retry-after': String(retryAfter) };
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > DRAIN_LIMIT_BYTES || req.headers['transfer-encoding'] !== undefined)
    headers.connection = 'close';
  return new HttpError(
    429,
    'rate_limited',
    `too many requests from ${who} (limit ${spec.perSecond}/s, bursts of ${spec.burst})`,
    `Wait ${retryAfter} s (Retry-After) and retry; the FGL site client does this by itself. The server operator can change the limit (fgl server start --rate-limit).`,
    headers,
  );
}

/**
 * Per-address and per-API-key token buckets, checked in an onRequest hook: before any body is
 * read or any route runs, so a flood costs the server almost nothing. Over the limit: 429 with
 * Retry-After and the standard error body. The admin key is not throttled (one trusted
 * operator; compared by hash in constant time, like the auth check).
 */
export function installRateLimit(
  app: FastifyInstance,
  config: RateLimitConfig,
  adminKeySha256: string,
): void {
  const byIp = new TokenBuckets(config.perIp, config.maxTracked);
  const byKey = new TokenBuckets(config.perSite, config.maxTracked);
  app.addHook('onRequest', async (req) => {
    if (!(config.exemptLoopback && LOOPBACK_IP.test(req.ip))) {
      const wait = byIp.take(req.ip);
      if (wait > 0) throw limited(req, 'this address', config.perIp, wait);
    }
    const key = bearerKey(req.headers.authorization);
    if (key === null) return;
    // Buckets are keyed by the key's hash: raw keys are never kept in memory longer than a request.
    const hash = secretHash(key);
    if (sameDigest(hash, adminKeySha256)) return;
    const wait = byKey.take(hash);
    if (wait > 0) throw limited(req, 'this API key', config.perSite, wait);
  });
}
