import { describe, expect, it } from 'vitest';
import { sampleCropBox } from '../../../src/server/training/random-resized-crop';
import { createRng } from '../../../src/server/training/seeded-random';

describe('sampleCropBox', () => {
  it('returns boxes inside the image whose area and aspect ratio follow torchvision’s ranges', () => {
    const rng = createRng(1);
    const S = 73;
    const areas: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const [y1, x1, y2, x2] = sampleCropBox(rng, S, S);
      expect(y1).toBeGreaterThanOrEqual(0);
      expect(x1).toBeGreaterThanOrEqual(0);
      expect(y2).toBeLessThanOrEqual(1);
      expect(x2).toBeLessThanOrEqual(1);
      const h = Math.round(y2 * (S - 1) - y1 * (S - 1)) + 1;
      const w = Math.round(x2 * (S - 1) - x1 * (S - 1)) + 1;
      // rounding to whole pixels widens the ranges slightly
      expect(w / h).toBeGreaterThan(0.7);
      expect(w / h).toBeLessThan(1.45);
      areas.push((w * h) / (S * S));
    }
    expect(Math.min(...areas)).toBeLessThan(0.12);
    expect(Math.max(...areas)).toBeGreaterThan(0.9);
    const mean = areas.reduce((a, b) => a + b, 0) / areas.length;
    expect(mean).toBeGreaterThan(0.45); // uniform on [0.08, 1] → 0.54, less the rejected tall/wide draws
    expect(mean).toBeLessThan(0.6);
  });

  it('falls back to the centred whole image when no sample fits', () => {
    expect(sampleCropBox(createRng(2), 10, 10, [2, 3])).toEqual([0, 0, 1, 1]);
    // a 10×40 strip clamps to the widest allowed ratio 4/3 → 13 px wide, centred
    const [y1, x1, y2, x2] = sampleCropBox(createRng(2), 10, 40, [2, 3]);
    expect([y1, y2]).toEqual([0, 1]);
    expect(Math.round(x1 * 39)).toBe(13);
    expect(Math.round(x2 * 39)).toBe(25);
  });
});
