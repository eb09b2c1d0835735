import { describe, expect, it } from 'vitest';
import { SharedMetrics } from '../../src/shared/server-api';

const ok = { samples: 10, accuracy: 0.5, balancedAccuracy: 0.5, macroF1: 0.4, macroAuroc: null, ece: 0.1, perClass: [{ name: 'a', precision: 1, recall: 0.5, f1: 0.66, support: 4 }] };

describe('shared (opt-in) metrics contract', () => {
  it('accepts aggregates only', () => {
    expect(SharedMetrics.parse(ok)).toEqual(ok);
  });
  it('refuses anything that could carry per-image or small-cell information', () => {
    expect(SharedMetrics.safeParse({ ...ok, confusion: [[1, 0], [0, 1]] }).success).toBe(false);
    expect(SharedMetrics.safeParse({ ...ok, perImage: [{ path: 'x.png', p: 0.9 }] }).success).toBe(false);
    expect(SharedMetrics.safeParse({ ...ok, perClass: [{ ...ok.perClass[0], worst: 'x.png' }] }).success).toBe(false);
    expect(SharedMetrics.safeParse({ ...ok, accuracy: 1.5 }).success).toBe(false);
  });
});
