/**
 * Differential privacy for outgoing conditioning rows: per-member clipping, the Gaussian
 * mechanism calibrated exactly (analytic Gaussian mechanism, Balle & Wang, ICML 2018), and
 * ε accounting across rows and packages.
 *
 * What the guarantee covers (the neighbouring relation):
 *   Two datasets are neighbours when they differ in the conditioning vector of ONE image while
 *   the partition into rows (which images form which row, hence every row's count n) is the
 *   same: "replace-one with a fixed, public partition". Counts are published in the package
 *   anyway, so add/remove-one would need the count itself to be protected (it is not), and
 *   treating n as public is what makes the mean's sensitivity well defined.
 *   Membership and counts are therefore NOT covered by DP; k-cohort (every row >= k images)
 *   and the singling-out test protect those.
 *
 * Sensitivity: each member's flattened [77·D] vector is clipped to L2 norm <= C, so replacing
 *   one member moves the sum by at most ||x − x'|| <= 2C and the mean over n by 2C/n.
 *   (C/n is the add/remove sensitivity of a sum divided by a public n; under replace-one the
 *   diameter of the clipping ball, 2C, is what counts.)
 *
 * Composition: rows of one package are built from disjoint sets of images, so a neighbour
 *   changes exactly one row and the package costs max over rows of ε_row (parallel
 *   composition). Packages from the same dataset compose basically: ε adds (and δ adds).
 *
 * Known limit: noise is sampled in floating point (Box–Muller); floating-point attacks on
 * textbook samplers (Mironov, CCS 2012) are not mitigated here.
 */
import { logNormalCdf, normalCdf } from './normal-cdf';
import type { Rng } from './seeded-rng';
import { secureRng } from './secure-rng';

export interface GaussianEpsilonInput {
  /** L2 sensitivity Δ of the released vector. */
  sensitivity: number;
  /** Per-coordinate noise standard deviation σ. */
  sigma: number;
  delta: number;
}

export interface GaussianSigmaInput {
  sensitivity: number;
  epsilon: number;
  delta: number;
}

function assertPositive(name: string, value: number, hint: string): void {
  if (!(Number.isFinite(value) && value > 0))
    throw new Error(`${name} must be a finite number > 0, got ${value}; ${hint}`);
}

function assertDelta(delta: number): void {
  if (!(delta > 0 && delta < 1))
    throw new Error(
      `δ must be in (0, 1), got ${delta}; use the study's privacy.delta (typically 1e-5)`,
    );
}

/**
 * The exact δ at which N(0, σ²) noise on a query of L2 sensitivity Δ is (ε, δ)-DP
 * (Balle & Wang 2018, Theorem 8):
 *   δ(ε) = Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ).
 * The second term is evaluated as exp(ε + log Φ(·)) so that it stays exact when Φ underflows.
 */
export function gaussianDelta(epsilon: number, sensitivity: number, sigma: number): number {
  const a = sensitivity / (2 * sigma);
  const b = (epsilon * sigma) / sensitivity;
  const value = normalCdf(a - b) - Math.exp(epsilon + logNormalCdf(-a - b));
  return Math.max(0, value);
}

const BISECTION_STEPS = 200;

/**
 * The smallest ε >= 0 for which the Gaussian mechanism (Δ, σ) is (ε, δ)-DP, by bisection on
 * the exact condition (δ(ε) is decreasing in ε). Returns the upper end of the final bracket,
 * so the reported ε always satisfies the condition (never optimistic).
 */
export function analyticGaussianEpsilon({
  sensitivity,
  sigma,
  delta,
}: GaussianEpsilonInput): number {
  assertPositive('sensitivity', sensitivity, 'clip norm C and row size n must be positive');
  assertPositive('σ', sigma, 'choose a noise level > 0 (or an ε target)');
  assertDelta(delta);
  if (gaussianDelta(0, sensitivity, sigma) <= delta) return 0;
  let lo = 0;
  let hi = 1;
  while (gaussianDelta(hi, sensitivity, sigma) > delta) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6)
      throw new Error(
        `ε exceeds 1e6 for Δ=${sensitivity}, σ=${sigma}, δ=${delta}: the noise is far too small; raise σ`,
      );
  }
  for (let i = 0; i < BISECTION_STEPS && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (gaussianDelta(mid, sensitivity, sigma) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The smallest σ for which the Gaussian mechanism with sensitivity Δ is (ε, δ)-DP (the inverse
 * of `analyticGaussianEpsilon`). δ(ε) is decreasing in σ, so bisection on σ; returns the upper
 * end of the bracket, so the σ returned always satisfies the condition.
 */
export function analyticGaussianSigma({ sensitivity, epsilon, delta }: GaussianSigmaInput): number {
  assertPositive('sensitivity', sensitivity, 'clip norm C and row size n must be positive');
  if (!(Number.isFinite(epsilon) && epsilon >= 0))
    throw new Error(`ε must be a finite number >= 0, got ${epsilon}`);
  assertDelta(delta);
  let hi = sensitivity;
  while (gaussianDelta(epsilon, sensitivity, hi) > delta) hi *= 2;
  let lo = hi / 2;
  while (lo > 1e-300 && gaussianDelta(epsilon, sensitivity, lo) <= delta) {
    hi = lo;
    lo /= 2;
  }
  for (let i = 0; i < BISECTION_STEPS && hi - lo > 1e-15 * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (gaussianDelta(epsilon, sensitivity, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The classical bound (Dwork & Roth 2014, Theorem A.1): σ >= Δ·sqrt(2 ln(1.25/δ))/ε gives
 * (ε, δ)-DP, valid only for ε < 1. Kept as a sanity check: the analytic ε is never larger.
 */
export function classicalGaussianEpsilon({
  sensitivity,
  sigma,
  delta,
}: GaussianEpsilonInput): number {
  assertPositive('sensitivity', sensitivity, 'clip norm C and row size n must be positive');
  assertPositive('σ', sigma, 'choose a noise level > 0');
  assertDelta(delta);
  return (sensitivity * Math.sqrt(2 * Math.log(1.25 / delta))) / sigma;
}

/** L2 norm of a vector, accumulated in double precision. */
export function l2Norm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** A copy of v scaled down to L2 norm <= clip (unchanged when already inside the ball). */
export function clipToNorm(v: Float32Array, clip: number): Float32Array {
  assertPositive('clip norm C', clip, 'pick C before looking at the data (a public constant)');
  const norm = l2Norm(v);
  const out = new Float32Array(v);
  // Float32 rounding could leave the norm a hair above C; scale by a factor just under C/norm.
  if (norm > clip) {
    const scale = (clip / norm) * (1 - 1e-6);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * scale;
  }
  return out;
}

/** Mean of members after clipping each to L2 norm <= clip (why: bounds one image's influence). */
export function clippedMean(vectors: readonly Float32Array[], clip: number): Float32Array {
  if (vectors.length === 0)
    throw new Error(
      'clippedMean needs at least one vector; empty rows must be suppressed before DP',
    );
  const dim = vectors[0]!.length;
  const sum = new Float64Array(dim);
  for (const v of vectors) {
    if (v.length !== dim)
      throw new Error(
        `clippedMean: vector of length ${v.length} among vectors of length ${dim}; all members must come from the same encoder`,
      );
    const c = clipToNorm(v, clip);
    for (let i = 0; i < dim; i++) sum[i]! += c[i]!;
  }
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = sum[i]! / vectors.length;
  return out;
}

/** L2 sensitivity of the clipped mean over n members under replace-one with public n: 2C/n. */
export function meanSensitivity(clip: number, n: number): number {
  assertPositive('clip norm C', clip, 'pick C before looking at the data');
  if (!(Number.isInteger(n) && n >= 1))
    throw new Error(`row size n must be an integer >= 1, got ${n}`);
  return (2 * clip) / n;
}

/** A copy of v with N(0, σ²) added to every coordinate. */
export function addGaussianNoise(v: Float32Array, sigma: number, rng: Rng): Float32Array {
  if (!(Number.isFinite(sigma) && sigma >= 0))
    throw new Error(`σ must be a finite number >= 0, got ${sigma}`);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! + sigma * rng.normal();
  return out;
}

export interface PrivatizeOptions {
  /** Per-member L2 clip norm C on the flattened [77·D] vector; a public constant, not data-derived. */
  clip: number;
  delta: number;
  /** Either a target ε per package (σ calibrated per row) or a fixed σ (ε computed per row). */
  noise: { epsilon: number } | { sigma: number };
  /** Defaults to the secure generator; pass `seededRng(seed)` only in tests. */
  rng?: Rng;
}

export interface PrivateRow {
  cond: Float32Array;
  count: number;
  sensitivity: number;
  sigma: number;
  epsilon: number;
}

export interface PrivatizeResult {
  rows: PrivateRow[];
  /** Package ε: the max over rows (parallel composition over disjoint rows). */
  epsilon: number;
  delta: number;
  clip: number;
  /** Largest σ over rows (equal for every row in fixed-σ mode). */
  sigmaMax: number;
}

/**
 * The σ and ε of one row of n units: pure, from the public row size and the options alone.
 * ε mode: σ = multiplier(ε, δ) · 2C/n (the analytic ε depends only on σ/Δ); σ mode: ε from σ.
 */
export function rowNoise(
  n: number,
  options: Pick<PrivatizeOptions, 'clip' | 'delta' | 'noise'>,
): { sensitivity: number; sigma: number; epsilon: number } {
  const sensitivity = meanSensitivity(options.clip, n);
  const noise = options.noise;
  if ('epsilon' in noise) {
    const multiplier = analyticGaussianSigma({
      sensitivity: 1,
      epsilon: noise.epsilon,
      delta: options.delta,
    });
    return { sensitivity, sigma: multiplier * sensitivity, epsilon: noise.epsilon };
  }
  return {
    sensitivity,
    sigma: noise.sigma,
    epsilon: analyticGaussianEpsilon({ sensitivity, sigma: noise.sigma, delta: options.delta }),
  };
}

/**
 * Clip, average and noise every row. `groups[r]` holds the per-image conditioning vectors
 * of row r (disjoint across rows). In ε mode every row gets exactly the target ε (σ_r scales
 * with its sensitivity 2C/n_r, since the analytic ε depends only on σ/Δ); in σ mode each row's
 * ε is computed and the package reports the largest.
 */
export function privatizeMeans(
  groups: readonly (readonly Float32Array[])[],
  options: PrivatizeOptions,
): PrivatizeResult {
  assertDelta(options.delta);
  assertPositive('clip norm C', options.clip, 'pick C before looking at the data');
  const rng = options.rng ?? secureRng();
  const rows: PrivateRow[] = groups.map((members) => {
    const mean = clippedMean(members, options.clip);
    const { sensitivity, sigma, epsilon } = rowNoise(members.length, options);
    return {
      cond: addGaussianNoise(mean, sigma, rng),
      count: members.length,
      sensitivity,
      sigma,
      epsilon,
    };
  });
  return {
    rows,
    epsilon: rows.reduce((m, r) => Math.max(m, r.epsilon), 0),
    delta: options.delta,
    clip: options.clip,
    sigmaMax: rows.reduce((m, r) => Math.max(m, r.sigma), 0),
  };
}

export type BudgetCheck =
  | { ok: true; total: number; remaining: number | null; message: string }
  | { ok: false; total: number; remaining: number | null; message: string };

/**
 * Basic sequential composition across packages of one dataset: ε adds. `maxEpsilon = null`
 * means the study sets no budget; the spend is still accounted.
 */
export function budgetCheck(
  spentEpsilon: number,
  newEpsilon: number,
  maxEpsilon: number | null,
): BudgetCheck {
  if (!(Number.isFinite(spentEpsilon) && spentEpsilon >= 0))
    throw new Error(`spent ε must be >= 0, got ${spentEpsilon}; check the ledger`);
  if (!(Number.isFinite(newEpsilon) && newEpsilon >= 0))
    throw new Error(`new ε must be >= 0, got ${newEpsilon}`);
  const total = spentEpsilon + newEpsilon;
  if (maxEpsilon === null)
    return {
      ok: true,
      total,
      remaining: null,
      message: `ε ${fmt(newEpsilon)} spent (total ${fmt(total)}; the study sets no budget)`,
    };
  const remaining = maxEpsilon - spentEpsilon;
  // A relative tolerance keeps 0.1 + 0.2 from being refused against a budget of 0.3.
  if (total > maxEpsilon * (1 + 1e-12))
    return {
      ok: false,
      total,
      remaining,
      message: `Refused: this package costs ε ${fmt(newEpsilon)} but only ${fmt(Math.max(0, remaining))} of the budget ${fmt(maxEpsilon)} is left for these images (already spent ${fmt(spentEpsilon)}). Add more noise (smaller ε), or stop sharing these images.`,
    };
  return {
    ok: true,
    total,
    remaining: maxEpsilon - total,
    message: `ε ${fmt(newEpsilon)} spent; ${fmt(maxEpsilon - total)} of ${fmt(maxEpsilon)} left`,
  };
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}
