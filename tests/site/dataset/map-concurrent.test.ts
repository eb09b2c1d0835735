import { describe, expect, it } from 'vitest';
import { mapConcurrent } from '../../../src/site/dataset/map-concurrent';
import { scanProgress } from '../../../src/site/dataset/scan-progress';

describe('mapConcurrent', () => {
  it('pulls from the source only when a slot is free (bounded memory)', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const v of mapConcurrent(source(), 3, async (i) => i * 2)) {
      seen.push(v);
      expect(pulled).toBeLessThanOrEqual(seen.length + 3);
      if (seen.length === 10) break;
    }
    expect(pulled).toBeLessThanOrEqual(13);
  });

  it('runs at most `limit` calls at once and yields every result', async () => {
    let active = 0;
    let peak = 0;
    async function* source() {
      yield* [5, 1, 4, 2, 3, 0];
    }
    const results: number[] = [];
    for await (const v of mapConcurrent(source(), 2, async (n) => {
      active++;
      peak = Math.max(peak, active);
      for (let i = 0; i <= n; i++) await new Promise((r) => setImmediate(r));
      active--;
      return n;
    }))
      results.push(v);
    expect(peak).toBe(2);
    expect(results.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('propagates an error and closes the source', async () => {
    let closed = false;
    async function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const run = async () => {
      for await (const _ of mapConcurrent(source(), 2, async (i) => {
        if (i === 3) throw new Error('boom');
        return i;
      }));
    };
    await expect(run()).rejects.toThrow('boom');
    expect(closed).toBe(true);
  });
});

describe('scanProgress', () => {
  it('computes rate and ETA from counts and elapsed time', () => {
    expect(scanProgress(50, 200, 10_000)).toEqual({
      stage: 'scan',
      done: 50,
      total: 200,
      ratePerSec: 5,
      etaSec: 30,
    });
    expect(scanProgress(50, null, 10_000)).toMatchObject({
      total: null,
      etaSec: null,
      ratePerSec: 5,
    });
    expect(scanProgress(0, 10, 0)).toMatchObject({ ratePerSec: 0, etaSec: null });
    // more files than counted (added during the scan): total never below done
    expect(scanProgress(12, 10, 1000)).toMatchObject({ total: 12, etaSec: 0 });
  });
});
