import { boxMullerNormal, uniform53, xoshiro128ss } from '../../../core/random/generators';

/**
 * A small seeded generator for initial latents and ancestral noise: the same seed gives the same
 * draws on every platform (pure 32-bit integer arithmetic, no Math.random). It does not reproduce
 * torch's generator, so images differ from diffusers' for the same seed; runs of ours are
 * reproducible. The generators live in `src/core/random/generators.ts`.
 */
export interface SynthesisRandom {
  /** Uniform on [0, 1) with 53 random bits. */
  readonly uniform: () => number;
  /** Standard normal N(0, 1) (Box-Muller; the second value of each pair is kept for the next call). */
  readonly normal: () => number;
  /** `length` standard normal draws, e.g. initial latents before scaling by initNoiseSigma. */
  readonly normals: (length: number) => Float32Array;
}

export function createSeededRandom(seed: number): SynthesisRandom {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(
      `Seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (got ${seed}).`,
    );
  }
  const uniform = uniform53(xoshiro128ss(seed));
  const normal = boxMullerNormal(uniform);
  const normals = (length: number): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = normal();
    return out;
  };
  return { uniform, normal, normals };
}
