import { describe, expect, it } from 'vitest';
import { analyticGaussianSigma, l2Norm } from '../../../src/site/privacy/differential-privacy';
import {
  dpGuaranteeText,
  dpReleaseParameters,
  noisyBinRow,
  noisyCounts,
} from '../../../src/site/privacy/dp-release';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

describe('DP over the whole release (noisy sum + noisy count per public bin)', () => {
  it('calibrates one Gaussian mechanism on (sum, C·count) with L2 sensitivity √2·C', () => {
    const p = dpReleaseParameters({ epsilon: 1, delta: 1e-5, clip: 10, k: 5 });
    expect(p.sigma).toBe(
      analyticGaussianSigma({ sensitivity: Math.SQRT2 * 10, epsilon: 1, delta: 1e-5 }),
    );
    expect(p.sigmaCount).toBeCloseTo(p.sigma / 10, 12);
    expect(p.threshold).toBeCloseTo(5 + 2 * p.sigmaCount, 12);
    expect(() => dpReleaseParameters({ epsilon: 0, delta: 1e-5, clip: 1, k: 5 })).toThrow(
      /--dp-epsilon/,
    );
  });

  it('noisy counts have the calibrated spread, for empty bins too', () => {
    const p = dpReleaseParameters({ epsilon: 2, delta: 1e-5, clip: 1, k: 3 });
    const draws = noisyCounts(new Array(20000).fill(0), p, seededRng(3));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(sd / p.sigmaCount).toBeGreaterThan(0.97);
    expect(sd / p.sigmaCount).toBeLessThan(1.03);
  });

  it('bounds one unit: a huge vector moves the noisy sum by at most C (same noise draws)', () => {
    const p = dpReleaseParameters({ epsilon: 1, delta: 1e-5, clip: 2, k: 3 });
    const base = [Float32Array.from([0.5, 0.5, 0]), Float32Array.from([0, 0.5, 0.5])];
    const without = noisyBinRow(base, 3, 10, p, seededRng(8));
    const withHuge = noisyBinRow(
      [...base, Float32Array.from([1e6, -1e6, 1e6])],
      3,
      10,
      p,
      seededRng(8),
    );
    const moved = l2Norm(Float32Array.from(withHuge, (x, i) => (x - without[i]!) * 10));
    expect(moved).toBeLessThanOrEqual(2 + 1e-3);
    expect(moved).toBeGreaterThan(1.9);
  });

  it('states the guarantee: unit, adjacency, ε, δ, what is and is not covered', () => {
    const g = dpGuaranteeText(
      dpReleaseParameters({ epsilon: 1, delta: 1e-5, clip: 1, k: 5 }),
      'patient',
    );
    expect(g.statement).toMatch(
      /\(ε = 1, δ = 0\.00001\)-differential privacy for adding or removing one patient/,
    );
    expect(g.covered.join(' ')).toMatch(/which public bins are sent/);
    expect(g.notCovered.join(' ')).toMatch(/public bin list/);
  });
});
