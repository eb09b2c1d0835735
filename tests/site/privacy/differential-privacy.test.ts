import { describe, expect, it } from 'vitest';
import {
  addGaussianNoise,
  analyticGaussianEpsilon,
  analyticGaussianSigma,
  budgetCheck,
  classicalGaussianEpsilon,
  clippedMean,
  clipToNorm,
  gaussianDelta,
  l2Norm,
  meanSensitivity,
  privatizeMeans,
} from '../../../src/site/privacy/differential-privacy';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

// Computed by `python3 tools/reference/analytic_gaussian.py` (standard library only, math.erfc):
// ε by plain bisection on Balle & Wang's Theorem 8 condition. Rows: [Δ, σ, δ, ε].
const EPSILON_REFERENCE: [number, number, number, number][] = [
  [1.0, 1.0, 1e-5, 4.3771780956812245],
  [1.0, 0.5, 1e-5, 9.997256146434305],
  [1.0, 2.0, 1e-5, 1.993091404415119],
  [1.0, 5.0, 1e-6, 0.8341175486240503],
  [0.1, 0.37, 1e-5, 1.0090956502122874],
  [2.0, 3.0, 1e-3, 1.911911188819165],
  [1.0, 10.0, 1e-5, 0.3406693646843256],
];

// Same script: σ by Balle & Wang's own calibration (Algorithm 1 of the paper, transcribed from
// the authors' released code; stops at |δ(σ) − δ| <= 1e-14, hence the 1e-8 tolerance). Rows: [Δ, ε, δ, σ].
const SIGMA_REFERENCE: [number, number, number, number][] = [
  [1.0, 1.0, 1e-5, 3.730631634944469],
  [1.0, 0.5, 1e-5, 7.031826675789567],
  [1.0, 4.0, 1e-5, 1.0811618495168793],
  [1.0, 0.1, 1e-6, 36.30469042148327],
  [0.25, 2.0, 1e-3, 0.3613097902326632],
];

describe('analytic Gaussian mechanism', () => {
  it.each(EPSILON_REFERENCE)(
    'ε(Δ=%d, σ=%d, δ=%d) matches the Python reference',
    (sensitivity, sigma, delta, eps) => {
      const got = analyticGaussianEpsilon({ sensitivity, sigma, delta });
      expect(Math.abs(got - eps) / eps).toBeLessThan(1e-10);
      // The returned ε satisfies the exact condition (never optimistic).
      expect(gaussianDelta(got, sensitivity, sigma)).toBeLessThanOrEqual(delta);
    },
  );

  it.each(SIGMA_REFERENCE)(
    'σ(Δ=%d, ε=%d, δ=%d) matches Balle & Wang calibration',
    (sensitivity, epsilon, delta, sigma) => {
      const got = analyticGaussianSigma({ sensitivity, epsilon, delta });
      expect(Math.abs(got - sigma) / sigma).toBeLessThan(1e-8);
      expect(gaussianDelta(epsilon, sensitivity, got)).toBeLessThanOrEqual(delta);
    },
  );

  it('more noise gives a smaller ε; a smaller δ gives a larger ε', () => {
    let prev = Infinity;
    for (const sigma of [0.3, 0.5, 1, 2, 4, 8, 16, 64]) {
      const eps = analyticGaussianEpsilon({ sensitivity: 1, sigma, delta: 1e-5 });
      expect(eps).toBeLessThan(prev);
      prev = eps;
    }
    const loose = analyticGaussianEpsilon({ sensitivity: 1, sigma: 2, delta: 1e-3 });
    const tight = analyticGaussianEpsilon({ sensitivity: 1, sigma: 2, delta: 1e-7 });
    expect(tight).toBeGreaterThan(loose);
  });

  it('depends only on σ/Δ', () => {
    const a = analyticGaussianEpsilon({ sensitivity: 1, sigma: 2, delta: 1e-5 });
    const b = analyticGaussianEpsilon({ sensitivity: 0.01, sigma: 0.02, delta: 1e-5 });
    expect(b).toBeCloseTo(a, 10);
  });

  it('inverse is consistent: ε(σ(ε)) = ε and σ(ε(σ)) = σ', () => {
    for (const epsilon of [0.05, 0.3, 1, 2.5, 7]) {
      const sigma = analyticGaussianSigma({ sensitivity: 0.7, epsilon, delta: 1e-5 });
      expect(analyticGaussianEpsilon({ sensitivity: 0.7, sigma, delta: 1e-5 })).toBeCloseTo(
        epsilon,
        8,
      );
    }
    for (const sigma of [0.4, 1.3, 9]) {
      const epsilon = analyticGaussianEpsilon({ sensitivity: 1, sigma, delta: 1e-6 });
      expect(analyticGaussianSigma({ sensitivity: 1, epsilon, delta: 1e-6 })).toBeCloseTo(sigma, 8);
    }
  });

  it('is never worse than the classical bound where that bound applies (ε < 1)', () => {
    for (const sigma of [5, 6, 10, 20, 50]) {
      for (const delta of [1e-3, 1e-5, 1e-8]) {
        const classical = classicalGaussianEpsilon({ sensitivity: 1, sigma, delta });
        if (classical >= 1) continue;
        expect(analyticGaussianEpsilon({ sensitivity: 1, sigma, delta })).toBeLessThanOrEqual(
          classical,
        );
      }
    }
    // The known case: ε = 1, δ = 1e-5 needs σ ≈ 4.84 classically but only ≈ 3.73 analytically.
    expect(analyticGaussianSigma({ sensitivity: 1, epsilon: 1, delta: 1e-5 })).toBeLessThan(
      Math.sqrt(2 * Math.log(1.25 / 1e-5)),
    );
  });

  it('returns ε = 0 when the noise already hides everything at this δ', () => {
    expect(analyticGaussianEpsilon({ sensitivity: 1e-9, sigma: 10, delta: 1e-5 })).toBe(0);
  });

  it('rejects nonsense parameters with a message that says what to change', () => {
    expect(() => analyticGaussianEpsilon({ sensitivity: 1, sigma: 0, delta: 1e-5 })).toThrow(
      /σ must be/,
    );
    expect(() => analyticGaussianEpsilon({ sensitivity: 1, sigma: 1, delta: 1 })).toThrow(
      /δ must be in \(0, 1\)/,
    );
    expect(() => analyticGaussianSigma({ sensitivity: -1, epsilon: 1, delta: 1e-5 })).toThrow(
      /sensitivity/,
    );
  });
});

describe('clipping and sensitivity', () => {
  it('clips long vectors to the norm and leaves short ones alone', () => {
    const long = Float32Array.from({ length: 77 * 8 }, (_, i) => Math.sin(i) * 10);
    const clipped = clipToNorm(long, 3);
    expect(l2Norm(clipped)).toBeLessThanOrEqual(3);
    expect(l2Norm(clipped)).toBeGreaterThan(2.999);
    // Direction kept.
    expect(clipped[5]! / clipped[7]!).toBeCloseTo(long[5]! / long[7]!, 4);
    const short = Float32Array.from([0.1, 0.2]);
    expect(Array.from(clipToNorm(short, 3))).toEqual(Array.from(short));
  });

  it('bounds how far replacing one member moves the mean by 2C/n', () => {
    const rng = seededRng(7);
    const n = 6;
    const C = 2;
    const members = Array.from({ length: n }, () =>
      Float32Array.from({ length: 50 }, () => rng.normal() * 5),
    );
    const base = clippedMean(members, C);
    for (let trial = 0; trial < 20; trial++) {
      const swapped = members.slice();
      swapped[trial % n] = Float32Array.from({ length: 50 }, () => rng.normal() * 100);
      const moved = clippedMean(swapped, C);
      const diff = Float32Array.from(base, (v, i) => v - moved[i]!);
      expect(l2Norm(diff)).toBeLessThanOrEqual(meanSensitivity(C, n) + 1e-6);
    }
    // The worst case is reached by antipodal members, so 2C/n is tight.
    const a = [Float32Array.from([C, 0]), Float32Array.from([0, 0])];
    const b = [Float32Array.from([-C, 0]), Float32Array.from([0, 0])];
    const gap = Math.abs(clippedMean(a, C)[0]! - clippedMean(b, C)[0]!);
    expect(gap).toBeCloseTo(meanSensitivity(C, 2), 4);
  });
});

describe('noise', () => {
  it('adds N(0, σ²) per coordinate, reproducibly with a seed', () => {
    const zero = new Float32Array(20_000);
    const a = addGaussianNoise(zero, 0.5, seededRng(1));
    const b = addGaussianNoise(zero, 0.5, seededRng(1));
    expect(Array.from(a)).toEqual(Array.from(b));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(sd).toBeGreaterThan(0.48);
    expect(sd).toBeLessThan(0.52);
  });
});

describe('privatizeMeans', () => {
  const rng = seededRng(3);
  const groups = [5, 10, 40].map((n) =>
    Array.from({ length: n }, () => Float32Array.from({ length: 77 * 4 }, () => rng.normal())),
  );

  it('ε mode: every row gets the target ε; σ scales with each row sensitivity', () => {
    const out = privatizeMeans(groups, {
      clip: 10,
      delta: 1e-5,
      noise: { epsilon: 2 },
      rng: seededRng(9),
    });
    expect(out.epsilon).toBe(2);
    expect(out.rows.map((r) => r.count)).toEqual([5, 10, 40]);
    for (const r of out.rows) {
      expect(r.sensitivity).toBeCloseTo(20 / r.count, 12);
      expect(
        analyticGaussianEpsilon({ sensitivity: r.sensitivity, sigma: r.sigma, delta: 1e-5 }),
      ).toBeCloseTo(2, 8);
    }
    expect(out.rows[0]!.sigma).toBeCloseTo(out.rows[2]!.sigma * 8, 8);
    expect(out.sigmaMax).toBe(out.rows[0]!.sigma);
  });

  it('σ mode: the package ε is the largest row ε (parallel composition), from the smallest row', () => {
    const out = privatizeMeans(groups, {
      clip: 10,
      delta: 1e-5,
      noise: { sigma: 1 },
      rng: seededRng(9),
    });
    const eps = out.rows.map((r) => r.epsilon);
    expect(eps[0]).toBeGreaterThan(eps[1]!);
    expect(eps[1]).toBeGreaterThan(eps[2]!);
    expect(out.epsilon).toBe(eps[0]);
  });

  it('is deterministic with a seeded generator and random without one', () => {
    const a = privatizeMeans(groups, {
      clip: 10,
      delta: 1e-5,
      noise: { sigma: 1 },
      rng: seededRng(4),
    });
    const b = privatizeMeans(groups, {
      clip: 10,
      delta: 1e-5,
      noise: { sigma: 1 },
      rng: seededRng(4),
    });
    expect(Array.from(a.rows[1]!.cond)).toEqual(Array.from(b.rows[1]!.cond));
    const c = privatizeMeans(groups, { clip: 10, delta: 1e-5, noise: { sigma: 1 } });
    expect(Array.from(c.rows[1]!.cond)).not.toEqual(Array.from(a.rows[1]!.cond));
  });
});

describe('budgetCheck (basic composition across packages)', () => {
  it('adds ε and refuses what would exceed the budget, saying what is left', () => {
    expect(budgetCheck(1, 2, 4)).toMatchObject({ ok: true, total: 3, remaining: 1 });
    const refused = budgetCheck(3, 2, 4);
    expect(refused.ok).toBe(false);
    expect(refused.total).toBe(5);
    expect(refused.message).toMatch(/only 1 of the budget 4 is left for these images/);
  });

  it('tolerates float rounding at the boundary and accounts without a budget', () => {
    expect(budgetCheck(0.1, 0.2, 0.3).ok).toBe(true);
    expect(budgetCheck(0.1, 0.2000001, 0.3).ok).toBe(false);
    expect(budgetCheck(100, 5, null)).toMatchObject({ ok: true, total: 105, remaining: null });
  });
});
