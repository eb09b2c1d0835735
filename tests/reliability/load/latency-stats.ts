/** Nearest-rank percentile of `values` (ms), p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export type LatencySummary = { n: number; p50Ms: number; p99Ms: number; maxMs: number };

export function summarize(values: readonly number[]): LatencySummary {
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: values.length,
    p50Ms: r(percentile(values, 50)),
    p99Ms: r(percentile(values, 99)),
    maxMs: r(values.length ? Math.max(...values) : Number.NaN),
  };
}

/** Run `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function boundedPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
