import type { ProgressEvent } from '../../shared/progress';
import { formatBytes, formatDuration, formatRate } from '../format/format-values';

/** Progress as the backend measured it: stage, done of total, rate and ETA. */
export function ProgressView({
  progress,
  label,
  bytes = false,
}: {
  progress: ProgressEvent | null | undefined;
  label: string;
  /** The units are bytes (a download): shown as KiB/MiB, the rate per second likewise. */
  bytes?: boolean;
}) {
  if (!progress) {
    return (
      <div className="progress">
        <progress aria-label={label} />
        <p className="muted">Starting…</p>
      </div>
    );
  }
  const { stage, done, total, ratePerSec, etaSec, message } = progress;
  const pct = total ? Math.min(100, (100 * done) / total) : null;
  const n = (x: number) => (bytes ? formatBytes(x) : String(x));
  return (
    <div className="progress">
      {total ? (
        <progress aria-label={label} max={total} value={Math.min(done, total)} />
      ) : (
        <progress aria-label={label} />
      )}
      <p className="progress-line" aria-live="polite">
        <span className="stage">{stage}</span> · {n(total ? Math.min(done, total) : done)}
        {total !== null ? ` of ${n(total)}` : ''}
        {pct !== null ? ` (${pct.toFixed(0)}%)` : ''} · {bytes ? `${formatBytes(ratePerSec)}/s` : formatRate(ratePerSec)} ·{' '}
        {etaSec === null ? 'time left unknown' : `about ${formatDuration(etaSec)} left`}
      </p>
      {message && <p className="muted">{message}</p>}
    </div>
  );
}
