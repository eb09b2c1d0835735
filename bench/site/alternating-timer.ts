import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Interleaved timing: every round runs each variant once, so a background load spike hits all
 * variants alike and the ratio of medians stays meaningful on a shared machine where absolute
 * times drift. The order rotates each round (A B C, B C A, C A B, …): whatever one call leaves
 * behind (an ORT pool still spinning, a cache warmed or flushed) lands on every variant equally
 * often instead of always on the one that follows it.
 */
export type AlternatingResult<K extends string> = {
  rounds: number;
  warmup: number;
  /** Milliseconds per call, one entry per measured round. */
  samplesMs: Record<K, number[]>;
  medianMs: Record<K, number>;
  /** Fastest round: the least-disturbed run, a steadier estimate than the median under heavy load. */
  minMs: Record<K, number>;
};

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of no samples: run at least one round');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function alternate<K extends string>(
  variants: Record<K, () => Promise<unknown>>,
  o: { rounds: number; warmup: number; settleMs?: number },
): Promise<AlternatingResult<K>> {
  const names = Object.keys(variants) as K[];
  const samplesMs = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<
    K,
    number[]
  >;
  for (let r = 0; r < o.warmup + o.rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!;
      // Let the previous variant's threads (ORT's spinning pool, sharp's workers) go idle first.
      if (o.settleMs) await sleep(o.settleMs);
      const t = performance.now();
      await variants[n]();
      const ms = performance.now() - t;
      if (r >= o.warmup) samplesMs[n].push(ms);
    }
  }
  const medianMs = Object.fromEntries(
    names.map((n) => [n, round(median(samplesMs[n]), 3)]),
  ) as Record<K, number>;
  const minMs = Object.fromEntries(
    names.map((n) => [n, round(Math.min(...samplesMs[n]), 3)]),
  ) as Record<K, number>;
  for (const n of names) samplesMs[n] = samplesMs[n].map((x) => round(x, 3));
  return { rounds: o.rounds, warmup: o.warmup, samplesMs, medianMs, minMs };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Median over rounds of a[i] / b[i], both timed in the same round: robust to load drifting between rounds. */
export function pairedRatioMedian(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length)
    throw new Error(`paired samples differ in length: ${a.length} vs ${b.length}`);
  return median(a.map((x, i) => x / b[i]!));
}
