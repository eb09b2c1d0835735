import { irwinHallNormal, mulberry32, uniform32 } from '../../core/random/generators';

/**
 * Deterministic pseudo-random numbers for tiny-model weights: mulberry32 with the stream name
 * mixed into the seed, and Irwin–Hall normals, so the same seed gives bit-identical weights on
 * every platform and Node version (generators in `src/core/random/generators.ts`).
 */
export class SeededRandom {
  /** Uniform in [0, 1), mulberry32. */
  readonly uniform: () => number;
  /** Approximately standard normal (Irwin–Hall with 4 terms: mean 0, variance 1, bounded by ±3.46). */
  readonly normal: () => number;

  constructor(seed: number, stream = '') {
    // Mix the stream name in so each model's weights stay put when another model's options change.
    let h = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < stream.length; i++)
      h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193) >>> 0;
    this.uniform = uniform32(mulberry32(h >>> 0));
    this.normal = irwinHallNormal(this.uniform);
  }

  /** `n` normal values times `scale`, as float32. */
  normals(n: number, scale: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }
}
