import { describe, expect, it } from 'vitest';
import { auroc, computeMetrics } from '../../../src/site/evaluate/classification-metrics';

describe('classification metrics', () => {
  it('matches hand-computed values on a small 3-class case', () => {
    // true: a a a b b c ; predicted: a a b b c c
    const p = (i: number, conf = 0.8) => [0, 1, 2].map((c) => (c === i ? conf : (1 - conf) / 2));
    const probs = [p(0), p(0), p(1), p(1), p(2), p(2)];
    const m = computeMetrics(probs, [0, 0, 0, 1, 1, 2], ['a', 'b', 'c']);
    expect(m.accuracy).toBeCloseTo(4 / 6);
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const [a, b, c] = m.perClass;
    expect([a!.precision, a!.recall]).toEqual([1, 2 / 3]);
    expect([b!.precision, b!.recall]).toEqual([0.5, 0.5]);
    expect([c!.precision, c!.recall]).toEqual([0.5, 1]);
    expect(m.balancedAccuracy).toBeCloseTo((2 / 3 + 0.5 + 1) / 3);
    expect(a!.f1).toBeCloseTo(0.8);
    // All confidences are 0.8 in one bin with accuracy 4/6.
    expect(m.ece).toBeCloseTo(Math.abs(0.8 - 4 / 6));
  });
  it('AUROC: 1 for a perfect ranking, 0.5 for ties, null without both classes', () => {
    expect(auroc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(auroc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(auroc([0.5, 0.5, 0.5, 0.5], [false, true, false, true])).toBe(0.5);
    expect(auroc([0.1, 0.2], [true, true])).toBeNull();
    // One inversion among 2x2 pairs → 3/4.
    expect(auroc([0.1, 0.6, 0.5, 0.9], [false, false, true, true])).toBe(0.75);
  });
  it('refuses mismatched shapes with a clear message', () => {
    expect(() => computeMetrics([[0.5, 0.5]], [0], ['a', 'b', 'c'])).toThrow(/2 probabilities but there are 3 classes/);
    expect(() => computeMetrics([[0.5, 0.5]], [2], ['a', 'b'])).toThrow(/outside/);
  });
});
