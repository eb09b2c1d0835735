import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../../src/site/evaluate/classification-metrics';
import { aggregateMetricsForServer } from '../../../src/site/evaluate/aggregate-metrics-for-server';

describe('aggregateMetricsForServer', () => {
  const m = computeMetrics(
    [
      [0.9, 0.1],
      [0.3, 0.7],
      [0.6, 0.4],
      [0.2, 0.8],
    ],
    [0, 1, 1, 1],
    ['a', 'b'],
  );

  it('carries only the aggregate numbers, never the confusion matrix, bins or anything per image', () => {
    const out = aggregateMetricsForServer(m, 1);
    expect(Object.keys(out).sort()).toEqual(['accuracy', 'balancedAccuracy', 'ece', 'macroAuroc', 'macroF1', 'perClass', 'samples', 'suppressedClasses']);
    for (const c of out.perClass) expect(Object.keys(c).sort()).toEqual(['f1', 'name', 'precision', 'recall', 'support']);
    expect(out).toEqual({
      samples: m.samples,
      accuracy: m.accuracy,
      balancedAccuracy: m.balancedAccuracy,
      macroF1: m.macroF1,
      macroAuroc: m.macroAuroc,
      ece: m.ece,
      perClass: m.perClass.map(({ name, precision, recall, f1, support }) => ({ name, precision, recall, f1, support })),
      suppressedClasses: 0,
    });
  });

  it('drops fields added to the metrics later (picked, not spread)', () => {
    const extended = { ...m, perImage: [{ path: 'patient-17.png', p: 0.9 }], perClass: m.perClass.map((c) => ({ ...c, worst: 'x.png' })) };
    const text = JSON.stringify(aggregateMetricsForServer(extended, 1));
    expect(text).not.toContain('png');
    expect(text).not.toContain('confusion');
  });

  it('leaves out classes supported by fewer than k images, and shares nothing from fewer than k images', () => {
    // Class "a" has one image: its recall is that one image's result.
    expect(m.perClass.map((c) => c.support)).toEqual([1, 3]);
    const out = aggregateMetricsForServer(m, 2);
    expect(out.perClass.map((c) => c.name)).toEqual(['b']);
    expect(out.suppressedClasses).toBe(1);
    expect(() => aggregateMetricsForServer(m, 5)).toThrow(/Only 4 images were evaluated, fewer than the study's k = 5/);
  });
});
