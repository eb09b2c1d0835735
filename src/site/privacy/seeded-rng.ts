import { boxMullerNormal, splitmixSfc32, uniform53, type Uint32Source } from '../../core/random/generators';

/**
 * The privacy code's random sources share this shape: a seeded, reproducible one here (k-means++
 * seeding, tests) and the cryptographically secure one for DP noise in real packages
 * (`secure-rng.ts`, kept apart). The generators themselves live in `src/core/random/generators.ts`.
 */
export interface Rng {
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
}

/** 53-bit uniforms and Box–Muller normals on top of a 32-bit source. */
export function rngFrom(source: Uint32Source): Rng {
  const next = uniform53(source);
  return { next, normal: boxMullerNormal(next) };
}

/**
 * Deterministic generator (splitmix32-seeded sfc32). Reproducible runs need it; it must never
 * produce DP noise for a package that leaves the site, since anyone knowing the seed could
 * subtract the noise.
 */
export function seededRng(seed: number): Rng {
  return rngFrom(splitmixSfc32(seed));
}
