import { describe, expect, it } from 'vitest';
import { createSeededRandom } from '../../../src/server/synthesis/schedulers/seeded-random';

describe('seeded random', () => {
  it('is deterministic per seed and differs between seeds (both 32-bit halves count)', () => {
    const a = createSeededRandom(42).normals(64);
    expect(createSeededRandom(42).normals(64)).toEqual(a);
    expect(createSeededRandom(43).normals(64)).not.toEqual(a);
    expect(createSeededRandom(2 ** 32).normals(8)).not.toEqual(createSeededRandom(0).normals(8));
  });
  it('normals(n) is n calls of normal() (pairs from Box-Muller are not lost)', () => {
    const r = createSeededRandom(7);
    const one = Float32Array.from({ length: 9 }, () => r.normal());
    expect(createSeededRandom(7).normals(9)).toEqual(one);
  });
  it('uniform is in [0, 1) with a flat histogram', () => {
    const r = createSeededRandom(1);
    const bins = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1)) outside += 1;
      else bins[Math.floor(u * 10)]! += 1;
    }
    expect(outside).toBe(0);
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
  it('normal draws have mean 0, variance 1 and the Gaussian 1-sigma mass', () => {
    const z = createSeededRandom(2024).normals(200_000);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length;
    const within1 = z.filter((v) => Math.abs(v) < 1).length / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
    expect(Math.abs(within1 - 0.6827)).toBeLessThan(0.005);
  });
  it('rejects seeds that are not safe non-negative integers', () => {
    expect(() => createSeededRandom(-1)).toThrow(/Seed must be a whole number/);
    expect(() => createSeededRandom(1.5)).toThrow(/Seed must be a whole number/);
  });
});
