import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/shared/api-error';
import { RateLimitConfig, TokenBuckets } from '../../../src/server/api/rate-limit';
import { type LoopbackServer, startLoopbackServer } from '../transport/tls-test-server';

describe('token buckets', () => {
  it('allows a burst, then one request per refill interval, and says how long to wait', () => {
    let now = 0;
    const b = new TokenBuckets({ burst: 3, perSecond: 2 }, 10, () => now);
    expect([b.take('k'), b.take('k'), b.take('k')]).toEqual([0, 0, 0]);
    expect(b.take('k')).toBeCloseTo(0.5, 6); // one token arrives every 500 ms
    now = 499; // 0.998 tokens: not yet (a refused request costs nothing)
    expect(b.take('k')).toBeCloseTo(0.001, 6);
    now = 1000; // 2 tokens
    expect([b.take('k'), b.take('k')]).toEqual([0, 0]);
    expect(b.take('k')).toBeCloseTo(0.5, 6);
    // Other keys have their own bucket; refill never exceeds the burst.
    expect(b.take('other')).toBe(0);
    now = 60_000;
    expect([b.take('k'), b.take('k'), b.take('k'), b.take('k') > 0]).toEqual([0, 0, 0, true]);
  });

  it('forgets the least recently used key beyond maxTracked, so memory stays bounded', () => {
    let now = 0;
    const b = new TokenBuckets({ burst: 1, perSecond: 0.001 }, 100, () => now);
    for (let i = 0; i < 1000; i++) b.take(`ip-${i}`);
    expect(b.size).toBe(100);
    now = 1;
    expect(b.take('ip-999')).toBeGreaterThan(0); // recent: still limited
  });

  it('has generous defaults', () => {
    const c = RateLimitConfig.parse({});
    expect(c.perSite.burst).toBeGreaterThanOrEqual(100);
    expect(c.perIp.perSecond).toBeGreaterThanOrEqual(c.perSite.perSecond);
  });
});

describe('rate limits on a real server', () => {
  let t: LoopbackServer;
  beforeAll(async () => {
    t = await startLoopbackServer({
      // Loopback is exempt by default (reverse proxies, the local CLI); not here, to test the per-address bucket.
      rateLimit: {
        perIp: { burst: 5, perSecond: 0.5 },
        perSite: { burst: 3, perSecond: 0.5 },
        exemptLoopback: false,
      },
    });
  });
  afterAll(async () => t?.close());

  it('answers 429 with Retry-After and the standard error body once an address exceeds its bucket', async () => {
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await t.api('GET', '/v1/health'));
    const statuses = answers.map((a) => a.status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const limited = answers[5]!;
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const body = ApiError.parse(limited.json);
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/this address/);
    expect(body.error.hint).toMatch(/Retry-After/);
  });
});
