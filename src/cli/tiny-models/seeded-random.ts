/**
 * Deterministic pseudo-random numbers for tiny-model weights. Only integer ops and Math.sqrt
 * (exactly rounded by IEEE 754) are used, so the same seed gives bit-identical weights on every
 * platform and Node version; Math.log/Math.cos would not guarantee that.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number, stream = '') {
    // Mix the stream name in so each model's weights stay put when another model's options change.
    let h = (seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < stream.length; i++)
      h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193) >>> 0;
    this.state = h >>> 0;
  }

  /** Uniform in [0, 1), mulberry32. */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Approximately standard normal (Irwin–Hall with 4 terms: mean 0, variance 1, bounded by ±3.46). */
  normal(): number {
    return (this.uniform() + this.uniform() + this.uniform() + this.uniform() - 2) * Math.sqrt(3);
  }

  /** `n` normal values times `scale`, as float32. */
  normals(n: number, scale: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * scale;
    return out;
  }
}
