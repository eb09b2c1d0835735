import { mulberry32, uniform32 } from '../../core/random/generators';

/** A seeded uniform [0, 1) generator: every random choice in training derives from the study's seed. */
export type Rng = () => number;

/** mulberry32 from seed ^ 0x9e3779b9, 32-bit uniforms: good enough for shuffles, splits and augmentation boxes. */
export function createRng(seed: number): Rng {
  return uniform32(mulberry32(seed ^ 0x9e3779b9));
}

/** Fisher–Yates, in place. */
export function shuffleInPlace<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** A positive 31-bit integer seed for tfjs initializers and ops (tfjs treats seed 0 as "unseeded"). */
export function deriveSeed(seed: number, salt: number): number {
  const r = createRng((seed * 1000003 + salt * 7919) | 0)();
  return 1 + Math.floor(r * 0x7ffffffe);
}
