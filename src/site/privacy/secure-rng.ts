import { rngFrom, type Rng } from './seeded-rng';

/**
 * The cryptographically secure generator (Web Crypto): the only source fit for real DP noise,
 * kept apart from the seeded generators (`src/core/random/generators.ts`) so that noise for a
 * package that leaves the site can never come from a seed someone could know.
 */
export function secureRng(): Rng {
  const buffer = new Uint32Array(1024);
  let index = buffer.length;
  return rngFrom(() => {
    if (index >= buffer.length) {
      globalThis.crypto.getRandomValues(buffer);
      index = 0;
    }
    return buffer[index++]!;
  });
}
