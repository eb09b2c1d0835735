import { describe, expect, it } from 'vitest';
import { secureRng } from '../../../src/site/privacy/secure-rng';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

describe('random sources', () => {
  it('the seeded generator repeats for a seed and differs across seeds', () => {
    const a = seededRng(123);
    const b = seededRng(123);
    const c = seededRng(124);
    const xs = Array.from({ length: 10 }, () => a.next());
    expect(Array.from({ length: 10 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c.next())).not.toEqual(xs);
  });

  it.each([
    ['seeded', () => seededRng(9)],
    ['secure', () => secureRng()],
  ])('%s: uniforms in [0, 1) and normals with mean 0, variance 1', (_name, make) => {
    const rng = make();
    let lo = 1;
    let hi = 0;
    let s = 0;
    for (let i = 0; i < 20_000; i++) {
      const u = rng.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      s += u;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(s / 20_000).toBeCloseTo(0.5, 1);
    const zs = Array.from({ length: 40_000 }, () => rng.normal());
    const mean = zs.reduce((a, z) => a + z, 0) / zs.length;
    const variance = zs.reduce((a, z) => a + (z - mean) ** 2, 0) / zs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.04);
    // Tail mass beyond 1.96 ≈ 5%.
    const tail = zs.filter((z) => Math.abs(z) > 1.959964).length / zs.length;
    expect(Math.abs(tail - 0.05)).toBeLessThan(0.006);
  });
});
