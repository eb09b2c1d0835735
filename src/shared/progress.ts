import { z } from 'zod';

/**
 * Progress of long work, computed where the work happens (never guessed by a UI):
 * `done` of `total` units of `stage`, with a measured rate and an ETA.
 */
export const ProgressEvent = z.object({
  stage: z.string(),
  done: z.number().nonnegative(),
  total: z.number().nonnegative().nullable(),
  ratePerSec: z.number().nonnegative(),
  etaSec: z.number().nonnegative().nullable(),
  message: z.string().optional(),
});
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export type ProgressListener = (p: ProgressEvent) => void;

/**
 * Turns "n more units done" into ProgressEvents with an exponentially smoothed rate, so the
 * ETA neither jumps on one slow batch nor lags a real slowdown for long.
 */
export function createProgressMeter(
  stage: string,
  total: number | null,
  listener: ProgressListener | undefined,
  now: () => number = () => performance.now(),
): { advance(n?: number, message?: string): void; setTotal(total: number | null): void; readonly done: number } {
  const start = now();
  let done = 0;
  let rate = 0;
  let lastT = start;
  let lastDone = 0;
  let tot = total;
  const emit = (message?: string) => {
    const etaSec = tot !== null && rate > 0 ? Math.max(0, (tot - done) / rate) : null;
    listener?.({ stage, done, total: tot, ratePerSec: rate, etaSec, ...(message ? { message } : {}) });
  };
  return {
    advance(n = 1, message?: string) {
      done += n;
      const t = now();
      const dt = (t - lastT) / 1000;
      if (dt > 0.05 || rate === 0) {
        const inst = dt > 0 ? (done - lastDone) / dt : 0;
        const overall = (t - start) > 0 ? done / ((t - start) / 1000) : 0;
        rate = rate === 0 ? overall || inst : 0.7 * rate + 0.3 * inst;
        lastT = t;
        lastDone = done;
      }
      emit(message);
    },
    setTotal(t) {
      tot = t;
      emit();
    },
    get done() {
      return done;
    },
  };
}
