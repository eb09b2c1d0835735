import { boxMullerNormal, mulberry32, uniform32 } from '../../core/random/generators';

/** Sample data's uniform [0, 1): mulberry32(seed) / 2^32 (src/core/random/generators.ts). */
export function seededUniform(seed: number): () => number {
  return uniform32(mulberry32(seed));
}

/** One standard normal from two uniforms (the first variate of a Box–Muller pair; the second is dropped). */
export function normal(rand: () => number): number {
  return boxMullerNormal(rand)();
}

/** Gamma(shape, 1) by Marsaglia–Tsang, with the shape < 1 boost. */
export function gamma(rand: () => number, shape: number): number {
  if (shape < 1) return gamma(rand, shape + 1) * Math.pow(rand() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function dirichlet(rand: () => number, alpha: number, k: number): number[] {
  const g = Array.from({ length: k }, () => gamma(rand, alpha));
  const s = g.reduce((a, b) => a + b, 0);
  // With tiny β all mass can underflow to 0; put it on one random component (the limit of Dir(β→0)).
  if (!(s > 0)) {
    const out = new Array<number>(k).fill(0);
    out[Math.floor(rand() * k)] = 1;
    return out;
  }
  return g.map((x) => x / s);
}
