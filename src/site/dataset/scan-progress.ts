export type ScanProgress = {
  stage: 'scan';
  /** Entries finished (usable or skipped). */
  done: number;
  /** Entries in all; null while still unknown (a folder is being counted). */
  total: number | null;
  /** Average entries per second since the scan started. */
  ratePerSec: number;
  /** Seconds left at the current rate; null when the total or the rate is unknown. */
  etaSec: number | null;
};

/** Progress from counts and elapsed time (pure). */
export function scanProgress(done: number, total: number | null, elapsedMs: number): ScanProgress {
  const ratePerSec = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  // Files may appear between the counting pass and the scan: never report done > total.
  const t = total === null ? null : Math.max(total, done);
  const etaSec =
    t !== null && ratePerSec > 0 ? (t - done) / ratePerSec : t !== null && t === done ? 0 : null;
  return { stage: 'scan', done, total: t, ratePerSec, etaSec };
}
