/**
 * A small seeded generator for initial latents and ancestral noise: the same seed gives the same
 * draws on every platform (pure 32-bit integer arithmetic, no Math.random). It does not reproduce
 * torch's generator, so images differ from diffusers' for the same seed; runs of ours are
 * reproducible.
 */
export interface SeededRandom {
  /** Uniform on [0, 1) with 53 random bits. */
  readonly uniform: () => number;
  /** Standard normal N(0, 1) (Box-Muller; the second value of each pair is kept for the next call). */
  readonly normal: () => number;
  /** `length` standard normal draws, e.g. initial latents before scaling by initNoiseSigma. */
  readonly normals: (length: number) => Float32Array;
}

export function createSeededRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(
      `Seed must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER} (got ${seed}).`,
    );
  }
  const next = xoshiro128ss(seed);
  const uniform = (): number => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
  let spare: number | null = null;
  const normal = (): number => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const u1 = 1 - uniform(); // (0, 1]: log never sees 0
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
  const normals = (length: number): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = normal();
    return out;
  };
  return { uniform, normal, normals };
}

/** xoshiro128** (Blackman & Vigna), state seeded from both 32-bit halves of the seed via splitmix32. */
function xoshiro128ss(seed: number): () => number {
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
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point
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
