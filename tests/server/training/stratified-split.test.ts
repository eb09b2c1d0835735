import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../../../src/server/training/stratified-split';

describe('stratifiedSplit', () => {
  it('partitions the indices, keeps every class in training and holds out ~fraction of each class with ≥ 2 samples', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 200 }),
        fc.double({ min: 0.05, max: 0.5, noNaN: true }),
        fc.integer(),
        (labels, fraction, seed) => {
          const { train, val } = stratifiedSplit(labels, fraction, seed);
          expect([...train, ...val].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
          for (const c of new Set(labels)) {
            const n = labels.filter((l) => l === c).length;
            const nVal = val.filter((i) => labels[i] === c).length;
            const want = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
            expect(nVal).toBe(want);
          }
        },
      ),
    );
  });

  it('is a function of the seed', () => {
    const labels = Array.from({ length: 100 }, (_, i) => i % 3);
    expect(stratifiedSplit(labels, 0.2, 5)).toEqual(stratifiedSplit(labels, 0.2, 5));
    expect(stratifiedSplit(labels, 0.2, 5).val).not.toEqual(stratifiedSplit(labels, 0.2, 6).val);
  });
});
