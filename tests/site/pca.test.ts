import { describe, expect, it } from 'vitest';
import { pca2d, project } from '../../src/site/report/pca';
import { seededRng } from '../../src/site/privacy/seeded-rng';

/** Points from N(mean, Σ) with Σ = R diag(sd²) Rᵀ, R a fixed random rotation (Gram–Schmidt). */
function anisotropic(
  n: number,
  sds: number[],
  seed: number,
): { data: Float32Array[]; axes: Float64Array[]; mean: Float64Array } {
  const d = sds.length;
  const rng = seededRng(seed);
  const axes: Float64Array[] = [];
  for (let a = 0; a < d; a++) {
    const v = Float64Array.from({ length: d }, () => rng.normal());
    for (const u of axes) {
      const p = v.reduce((s, x, i) => s + x * u[i]!, 0);
      for (let i = 0; i < d; i++) v[i]! -= p * u[i]!;
    }
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    axes.push(v.map((x) => x / norm));
  }
  const mean = Float64Array.from({ length: d }, (_, i) => i * 0.5 - 3);
  const data = Array.from({ length: n }, () => {
    const p = Float32Array.from(mean);
    for (let a = 0; a < d; a++) {
      const z = rng.normal() * sds[a]!;
      for (let i = 0; i < d; i++) p[i]! += z * axes[a]![i]!;
    }
    return p;
  });
  return { data, axes, mean };
}

const absCos = (a: Float32Array, b: Float64Array): number => {
  let dot = 0;
  let na = 0;
  for (let i = 0; i < b.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
  }
  return Math.abs(dot) / Math.sqrt(na);
};

describe('pca2d', () => {
  it('recovers the dominant axes of an anisotropic Gaussian (n > d: covariance route)', () => {
    const { data, axes, mean } = anisotropic(2000, [5, 2, 0.5, 0.3, 0.2, 0.1, 0.1, 0.1], 1);
    const fit = pca2d(data);
    expect(absCos(fit.components[0], axes[0]!)).toBeGreaterThan(0.995);
    expect(absCos(fit.components[1], axes[1]!)).toBeGreaterThan(0.99);
    expect(fit.explainedVariance[0]).toBeGreaterThan(25 * 0.9);
    expect(fit.explainedVariance[0]).toBeLessThan(25 * 1.1);
    expect(fit.explainedVariance[1]).toBeGreaterThan(4 * 0.9);
    expect(fit.explainedVariance[1]).toBeLessThan(4 * 1.1);
    expect(fit.explainedVarianceRatio[0]).toBeGreaterThan(0.8);
    for (let i = 0; i < mean.length; i++) expect(fit.mean[i]).toBeCloseTo(mean[i]!, 0);
    // Components are orthonormal.
    const dot = fit.components[0].reduce((s, x, i) => s + x * fit.components[1][i]!, 0);
    expect(Math.abs(dot)).toBeLessThan(1e-5);
  });

  it('recovers them when n < d too (Gram route), and agrees with the covariance route', () => {
    const sds = [6, 3, ...Array.from({ length: 118 }, () => 0.05)];
    const { data, axes } = anisotropic(60, sds, 2);
    const fit = pca2d(data);
    expect(absCos(fit.components[0], axes[0]!)).toBeGreaterThan(0.99);
    expect(absCos(fit.components[1], axes[1]!)).toBeGreaterThan(0.97);
    // Same data with d < n via duplication changes nothing but the route taken.
    const doubled = pca2d([...data, ...data, ...data]);
    expect(absCos(doubled.components[0], Float64Array.from(fit.components[0]))).toBeGreaterThan(
      0.9999,
    );
  });

  it('is deterministic, with a fixed sign convention', () => {
    const { data } = anisotropic(300, [3, 1, 0.2, 0.2], 3);
    const a = pca2d(data);
    const b = pca2d(data);
    expect(a.points).toEqual(b.points);
    for (const c of a.components) {
      let best = 0;
      for (let i = 1; i < c.length; i++) if (Math.abs(c[i]!) > Math.abs(c[best]!)) best = i;
      expect(c[best]).toBeGreaterThan(0);
    }
    // Negating the data flips nothing in the components (sign is fixed by the convention, not the data).
    const neg = pca2d(data.map((v) => v.map((x) => -x)));
    expect(Array.from(neg.components[0])).toEqual(
      Array.from(a.components[0]).map((x) => expect.closeTo(x, 5)),
    );
  });

  it('project places new vectors in the fitted plane', () => {
    const { data } = anisotropic(500, [4, 2, 0.1], 4);
    const fit = pca2d(data);
    expect(project(data.slice(0, 5), fit)).toEqual(fit.points.slice(0, 5));
    expect(project([fit.mean], fit)[0]).toEqual([0, 0]);
    const along = Float32Array.from(fit.mean, (m, i) => m + 3 * fit.components[0][i]!);
    const [x, y] = project([along], fit)[0]!;
    expect(x).toBeCloseTo(3, 4);
    expect(y).toBeCloseTo(0, 4);
  });

  it('handles degenerate input: one point, collinear points', () => {
    const one = pca2d([Float32Array.from([1, 2, 3])]);
    expect(one.points).toEqual([[0, 0]]);
    expect(one.explainedVariance).toEqual([0, 0]);
    const line = pca2d([0, 1, 2, 3].map((t) => Float32Array.from([t, 2 * t, 0])));
    expect(line.explainedVariance[1]).toBe(0);
    expect(line.explainedVarianceRatio[0]).toBeCloseTo(1, 10);
    expect(Array.from(line.components[1])).toEqual([0, 0, 0]);
  });

  it('rejects empty input and mixed dimensions with clear messages', () => {
    expect(() => pca2d([])).toThrow(/at least one vector/);
    expect(() => pca2d([new Float32Array(3), new Float32Array(4)])).toThrow(
      /one embedding space at a time/,
    );
  });
});
