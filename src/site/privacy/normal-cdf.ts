/**
 * The standard normal CDF and the complementary error function, accurate to ~1e-15 relative,
 * with a log form that stays finite far in the tail (the analytic Gaussian mechanism multiplies
 * e^ε by Φ of a very negative argument, where a plain Φ underflows to 0).
 *
 * erfc uses the positive-term Taylor series of erf for |x| < 2 (no cancellation) and the
 * Laplace continued fraction of the scaled function erfcx(x) = e^{x²} erfc(x) for x >= 2.
 * Checked against Python's math.erfc in tests/site/privacy/normal-cdf.test.ts.
 */

const SQRT_PI = Math.sqrt(Math.PI);
const SERIES_LIMIT = 2;

/** erf(x) for |x| < SERIES_LIMIT: (2/√π) e^{-x²} Σ 2ⁿ x^{2n+1} / (1·3···(2n+1)). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * Math.exp(-x2) * sum;
}

/** e^{x²} erfc(x) for x >= SERIES_LIMIT by the continued fraction 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) / √π. */
function erfcxContinuedFraction(x: number): number {
  // Modified Lentz algorithm for b0 + a1/(b1 + a2/(b2 + …)) with b_j = x, a_j = j/2.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let j = 1; j < 5000; j++) {
    const a = j / 2;
    d = x + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = x + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 / (SQRT_PI * f);
}

/** Scaled complementary error function e^{x²} erfc(x), for x >= 0. */
function erfcxNonNegative(x: number): number {
  if (x < SERIES_LIMIT) return Math.exp(x * x) * (1 - erfSeries(x));
  return erfcxContinuedFraction(x);
}

/** Complementary error function erfc(x) = 1 - erf(x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < SERIES_LIMIT) return 1 - erfSeries(x);
  if (x > 27.3) return 0; // below the smallest double
  return Math.exp(-x * x) * erfcxContinuedFraction(x);
}

/** log erfc(x), finite for every finite x (uses the scaled form in the far tail). */
export function logErfc(x: number): number {
  if (x < SERIES_LIMIT) return Math.log(erfc(x));
  return Math.log(erfcxNonNegative(x)) - x * x;
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** log Φ(x), finite far into the lower tail (x = -1e3 gives ≈ -5e5, not -Infinity). */
export function logNormalCdf(x: number): number {
  return Math.log(0.5) + logErfc(-x / Math.SQRT2);
}
