import { createRng, shuffleInPlace } from './seeded-random';

export interface Split {
  train: number[];
  val: number[];
}

/**
 * Deterministic stratified hold-out: each class with ≥ 2 samples gives
 * max(1, round(n × fraction)) of them, chosen by `seed`, to validation (never all of them);
 * single-sample classes stay in training. Indices come back sorted.
 */
export function stratifiedSplit(labels: readonly number[], fraction: number, seed: number): Split {
  if (!(fraction > 0 && fraction < 1))
    throw new Error(`Validation fraction ${fraction} must be between 0 and 1.`);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const list = byClass.get(label) ?? [];
    list.push(i);
    byClass.set(label, list);
  });
  const rng = createRng(seed);
  const train: number[] = [];
  const val: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = shuffleInPlace(byClass.get(label)!, rng);
    const nVal =
      idx.length < 2 ? 0 : Math.min(idx.length - 1, Math.max(1, Math.round(idx.length * fraction)));
    val.push(...idx.slice(0, nVal));
    train.push(...idx.slice(nVal));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}
