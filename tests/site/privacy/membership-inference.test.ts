import { describe, expect, it } from 'vitest';
import {
  attackFeatures,
  attackScore,
  aucWithBootstrapCi,
  classMatched,
  fitAttackModel,
  rocAuc,
  trueClassLogOdds,
} from '../../../src/site/privacy/membership-inference';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

describe('membership-inference arithmetic', () => {
  it('AUC is the Mann–Whitney probability, ties counted ½', () => {
    expect(rocAuc([3, 4], [1, 2])).toBe(1);
    expect(rocAuc([1, 2], [3, 4])).toBe(0);
    expect(rocAuc([1, 3], [2, 4])).toBe(0.25);
    expect(rocAuc([1, 1], [1, 1])).toBe(0.5);
    // One tie among 2 × 2 pairs: (2 > 1) + (2 = 2)/2 + (5 > 1) + (5 > 2) = 3.5 of 4.
    expect(rocAuc([2, 5], [1, 2])).toBe(0.875);
    expect(() => rocAuc([], [1])).toThrow(/both classes/);
  });

  it('the bootstrap interval is seeded and brackets the estimate', () => {
    const rng = seededRng(3);
    const pos = Array.from({ length: 200 }, () => rng.normal() + 0.5);
    const neg = Array.from({ length: 200 }, () => rng.normal());
    const a = aucWithBootstrapCi(pos, neg, { rounds: 300, seed: 9 });
    expect(aucWithBootstrapCi(pos, neg, { rounds: 300, seed: 9 })).toEqual(a);
    expect(a.low).toBeLessThan(a.auc);
    expect(a.high).toBeGreaterThan(a.auc);
    // A shift of 0.5 σ: AUC = Φ(0.5/√2) ≈ 0.638.
    expect(a.low).toBeLessThan(0.638);
    expect(a.high).toBeGreaterThan(0.638);
    expect(a.high - a.low).toBeLessThan(0.15);
  });

  it('the loss score stays informative where p(true class) rounds to 1 in float32', () => {
    const sure = Float32Array.from([1, 1e-12, 1e-12]);
    const surer = Float32Array.from([1, 1e-20, 1e-20]);
    expect(sure[0]).toBe(1);
    expect(trueClassLogOdds(surer, 0)).toBeGreaterThan(trueClassLogOdds(sure, 0));
    expect(trueClassLogOdds(Float32Array.from([0.5, 0.25, 0.25]), 0)).toBeCloseTo(0, 6);
    expect(attackFeatures(Float32Array.from([0.1, 0.7, 0.2]), 0)[4]).toBe(0);
  });

  it('the shadow attack model separates what its training data separates, and only that', () => {
    const rng = seededRng(5);
    // Members: a lower loss (higher log-odds); non-members: the same distribution shifted down.
    const sample = (shift: number) => Array.from({ length: 300 }, () => [rng.normal() + shift, rng.normal()]);
    const m = sample(1);
    const n = sample(0);
    const model = fitAttackModel([...m, ...n], [...m.map(() => true), ...n.map(() => false)]);
    expect(model.weights[0]).toBeGreaterThan(0.5);
    expect(Math.abs(model.weights[1]!)).toBeLessThan(0.2);
    const tm = sample(1).map((x) => attackScore(model, x));
    const tn = sample(0).map((x) => attackScore(model, x));
    expect(rocAuc(tm, tn)).toBeGreaterThan(0.7);
    expect(() => fitAttackModel([[1], [2]], [true, true])).toThrow(/both members and non-members/);
  });

  it('members and non-members are matched class by class', () => {
    const xs = (labels: number[]) => labels.map((label, i) => ({ label, i }));
    const r = classMatched(xs([0, 0, 0, 1, 2]), xs([0, 1, 1, 1]));
    expect(r.members.map((x) => x.label)).toEqual([0, 1]);
    expect(r.nonMembers.map((x) => x.label)).toEqual([0, 1]);
  });
});
