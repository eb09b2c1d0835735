/**
 * Differential privacy over the whole release, not only over the row vectors.
 *
 * With DP on, which rows exist and what they say depend on private data only through this
 * mechanism:
 *   - bins are fixed and public before any data is read: one per study class (class and
 *     instance prompts), or one per (class, vocabulary phrase) for vocabulary prompts;
 *   - each privacy unit (patient / distinct picture, privacy-units.ts) falls in exactly one bin
 *     and adds one vector, its members' mean clipped to L2 norm ≤ C (contribution bounding);
 *   - per bin the mechanism releases the noisy sum S̃ = Σ clip(u) + N(0, σ²·I) and the noisy
 *     count ñ = n + N(0, (σ/C)²): jointly the Gaussian mechanism on (S, C·n), whose L2
 *     sensitivity under adding or removing one unit is √(C² + C²) = √2·C;
 *   - a bin is sent only when ñ ≥ T (a public threshold), its row is S̃ / ñ and its count
 *     round(ñ): post-processing, free under DP.
 * Bins hold disjoint units, so a package is (ε, δ)-DP for add/remove-one-unit adjacency by
 * parallel composition; ε adds up across packages that share units (dp ledger, per content).
 * Not covered: the public bin list (the study's classes and vocabulary), that the site took part,
 * and when.
 */
import { addGaussianNoise, analyticGaussianSigma, clipToNorm } from './differential-privacy';
import type { Rng } from './seeded-rng';

export type DpReleaseParameters = {
  epsilon: number;
  delta: number;
  clip: number;
  /** σ of the noise on each coordinate of a bin's sum. */
  sigma: number;
  /** σ of the noise on a bin's count (σ / C). */
  sigmaCount: number;
  /** A bin is sent when its noisy count is at least this (k + 2·σ_count, public). */
  threshold: number;
  adjacency: 'add-remove-one-unit';
};

/** The mechanism's parameters: a pure function of public settings (ε, δ, C, k), known before any data. */
export function dpReleaseParameters(o: {
  epsilon: number;
  delta: number;
  clip: number;
  k: number;
}): DpReleaseParameters {
  if (!(Number.isFinite(o.epsilon) && o.epsilon > 0))
    throw new Error(`ε must be a finite number > 0, got ${o.epsilon}; pass --dp-epsilon, e.g. 1`);
  const sigma = analyticGaussianSigma({
    sensitivity: Math.SQRT2 * o.clip,
    epsilon: o.epsilon,
    delta: o.delta,
  });
  const sigmaCount = sigma / o.clip;
  return {
    epsilon: o.epsilon,
    delta: o.delta,
    clip: o.clip,
    sigma,
    sigmaCount,
    threshold: o.k + 2 * sigmaCount,
    adjacency: 'add-remove-one-unit',
  };
}

/** Noisy counts of every public bin (empty bins included: skipping them would leak that they are empty). */
export function noisyCounts(counts: readonly number[], p: DpReleaseParameters, rng: Rng): number[] {
  return counts.map((n) => n + p.sigmaCount * rng.normal());
}

/** A released bin's row: (Σ clipped unit vectors + N(0, σ²)) / ñ, streamed one unit at a time. */
export function noisyBinRow(
  unitVectors: Iterable<Float32Array>,
  dim: number,
  noisyCount: number,
  p: DpReleaseParameters,
  rng: Rng,
): Float32Array {
  const sum = new Float64Array(dim);
  for (const v of unitVectors) {
    if (v.length !== dim)
      throw new Error(
        `a unit vector has ${v.length} values, the package ${dim}; all members must come from the study's encoder`,
      );
    const c = clipToNorm(v, p.clip);
    for (let i = 0; i < dim; i++) sum[i]! += c[i]!;
  }
  const noisy = addGaussianNoise(Float32Array.from(sum), p.sigma, rng);
  // ñ ≥ T > 0 for every released bin; the guard only keeps a misuse from dividing by ≤ 0.
  const n = Math.max(noisyCount, 1);
  for (let i = 0; i < dim; i++) noisy[i] = noisy[i]! / n;
  return noisy;
}

/** What the package and the report say the guarantee is, word for word. */
export function dpGuaranteeText(
  p: DpReleaseParameters,
  unit: 'patient' | 'image' | 'mixed',
): { statement: string; covered: string[]; notCovered: string[] } {
  const unitText =
    unit === 'image'
      ? 'one distinct picture (identical and near-duplicate files count once)'
      : unit === 'patient'
        ? 'one patient (all of their images)'
        : 'one patient where the data names them, else one distinct picture';
  return {
    statement: `(ε = ${p.epsilon}, δ = ${p.delta})-differential privacy for adding or removing ${unitText}, over the whole package: rows, counts and which bins are sent.`,
    covered: [
      'the conditioning rows (noisy sums / noisy counts)',
      'the counts tensor (rounded noisy counts)',
      'which public bins are sent (threshold on the noisy count)',
    ],
    notCovered: [
      'the public bin list (study classes and vocabulary)',
      'that this site took part, and the day it prepared',
      'ε spent by earlier packages (it adds up: see the budget)',
    ],
  };
}
