/**
 * Random sources for the privacy code: a seeded, reproducible one (k-means++ seeding, tests)
 * and a cryptographically secure one (DP noise in real packages).
 */

export interface Rng {
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
}

/** Box–Muller on top of a uniform source; the second variate of each pair is kept for the next call. */
function withNormal(uniform32: () => number): Rng {
  const next = (): number => {
    const hi = uniform32() >>> 5; // 27 bits
    const lo = uniform32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };
  let spare: number | null = null;
  return {
    next,
    normal(): number {
      if (spare !== null) {
        const s = spare;
        spare = null;
        return s;
      }
      const u1 = 1 - next(); // (0, 1]: log stays finite
      const u2 = next();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
  };
}

/**
 * Deterministic generator (splitmix32-seeded sfc32). Reproducible runs need it; it must never
 * produce DP noise for a package that leaves the site, since anyone knowing the seed could
 * subtract the noise.
 */
export function seededRng(seed: number): Rng {
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
  for (let i = 0; i < 12; i++) sfc32(); // warm-up: decorrelate nearby seeds
  return withNormal(sfc32);
}

/** Cryptographically secure generator (Web Crypto): the only source fit for real DP noise. */
export function secureRng(): Rng {
  const buffer = new Uint32Array(1024);
  let index = buffer.length;
  return withNormal(() => {
    if (index >= buffer.length) {
      globalThis.crypto.getRandomValues(buffer);
      index = 0;
    }
    return buffer[index++]!;
  });
}
