/**
 * The one home of FGL's seeded pseudo-random generators, each named for what it is. Pure 32-bit
 * integer arithmetic, so a seed gives the same stream on every platform and Node version. The
 * callers keep thin facades with their historical seeding, and every stream is pinned
 * bit-for-bit by tests/core/random/generators.test.ts:
 * - tiny-model weights (`src/cli/tiny-models/seeded-random.ts`): `mulberry32` + `irwinHallNormal`;
 * - privacy k-means++ seeding and reproducible runs (`src/site/privacy/seeded-rng.ts`):
 *   `splitmixSfc32` + `uniform53` + `boxMullerNormal`;
 * - synthesis latents and ancestral noise (`src/server/synthesis/schedulers/seeded-random.ts`):
 *   `xoshiro128ss` + `uniform53` + `boxMullerNormal`;
 * - training shuffles, splits, augmentation and tfjs seeds (`src/server/training/seeded-random.ts`):
 *   `mulberry32(seed ^ 0x9e3779b9)` + `uniform32`;
 * - sample-data Dirichlet splits (`src/cli/sample-data/seeded-random.ts`): `mulberry32(seed)` +
 *   `uniform32`, one `boxMullerNormal` variate per normal.
 *
 * None of these may produce differential-privacy noise for a package that leaves a site: anyone
 * who knows the seed could subtract it. The one source for that is the cryptographic
 * `secureRng` in `src/site/privacy/secure-rng.ts`, kept apart on purpose.
 */

/** A source of uniformly distributed unsigned 32-bit integers. */
export type Uint32Source = () => number;

/** mulberry32 (Tommy Ettinger) from a 32-bit state. */
export function mulberry32(state: number): Uint32Source {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** sfc32 (Chris Doty-Humphrey) with its state drawn from splitmix32(seed), then 12 warm-up draws to decorrelate nearby seeds. */
export function splitmixSfc32(seed: number): Uint32Source {
  let s = seed >>> 0;
  const splitmix32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  const sfc32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) sfc32();
  return sfc32;
}

/**
 * xoshiro128** (Blackman & Vigna), state seeded from both 32-bit halves of a safe-integer seed
 * via a splitmix32 variant (the all-zero state, a fixed point, is avoided).
 */
export function xoshiro128ss(seed: number): Uint32Source {
  let x = (seed % 0x1_0000_0000) >>> 0;
  const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  const splitmix32 = (): number => {
    x = (x + 0x9e3779b9) | 0;
    let z = x ^ Math.imul(hi, 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
  let a = splitmix32();
  let b = splitmix32();
  let c = splitmix32();
  let d = splitmix32();
  if ((a | b | c | d) === 0) a = 1;
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Uniform on [0, 1) with 32 random bits: one draw / 2^32. */
export function uniform32(next: Uint32Source): () => number {
  return () => next() / 4294967296;
}

/** Uniform on [0, 1) with 53 random bits: 27 bits of one draw, then 26 of the next. */
export function uniform53(next: Uint32Source): () => number {
  return () => {
    const hi = next() >>> 5;
    const lo = next() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/** Standard normal N(0, 1) by Box–Muller; the second variate of each pair is kept for the next call. */
export function boxMullerNormal(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u1 = 1 - uniform(); // (0, 1]: log stays finite
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

/**
 * Approximately standard normal by Irwin–Hall with 4 terms (mean 0, variance 1, bounded by
 * ±3.46). Only additions and Math.sqrt (exactly rounded by IEEE 754), so it is bit-identical on
 * every platform, which Math.log/Math.cos are not guaranteed to be.
 */
export function irwinHallNormal(uniform: () => number): () => number {
  return () => (uniform() + uniform() + uniform() + uniform() - 2) * Math.sqrt(3);
}
