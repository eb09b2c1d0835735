type Settled<R> = { id: number; ok: true; value: R } | { id: number; ok: false; error: unknown };

/**
 * Maps an async stream with at most `limit` calls of `fn` in flight, yielding results as they
 * finish (not in input order). Pulls from `source` only when a slot is free, so memory is bounded
 * by `limit`. On early exit or error the source is closed and in-flight calls are awaited.
 */
export async function* mapConcurrent<T, R>(
  source: AsyncIterable<T>,
  limit: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const it = source[Symbol.asyncIterator]();
  // Results are wrapped so no in-flight promise is ever an unhandled rejection.
  const running = new Map<number, Promise<Settled<R>>>();
  let nextId = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < Math.max(1, limit)) {
        const n = await it.next();
        if (n.done) {
          exhausted = true;
          break;
        }
        const id = nextId++;
        running.set(
          id,
          fn(n.value).then(
            (value): Settled<R> => ({ id, ok: true, value }),
            (error: unknown): Settled<R> => ({ id, ok: false, error }),
          ),
        );
      }
      if (running.size === 0) return;
      const s = await Promise.race(running.values());
      running.delete(s.id);
      if (!s.ok) throw s.error;
      yield s.value;
    }
  } finally {
    if (!exhausted) await it.return?.(undefined);
    await Promise.all(running.values());
  }
}
