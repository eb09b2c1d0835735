import type { Output } from './command';
import type { ProgressEvent, ProgressListener } from '../shared/progress';

function fmtEta(sec: number | null): string {
  if (sec === null || !Number.isFinite(sec)) return '';
  if (sec < 60) return `ETA ${Math.ceil(sec)}s`;
  const m = Math.floor(sec / 60);
  return m < 60 ? `ETA ${m}m${String(Math.ceil(sec % 60)).padStart(2, '0')}s` : `ETA ${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatProgress(p: ProgressEvent, width = 24): string {
  const rate = p.ratePerSec >= 10 ? p.ratePerSec.toFixed(0) : p.ratePerSec.toFixed(1);
  if (p.total === null || p.total === 0) return `${p.stage}: ${p.done} done, ${rate}/s${p.message ? ` — ${p.message}` : ''}`;
  const frac = Math.min(1, p.done / p.total);
  const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
  return `${p.stage.padEnd(12)} ${bar} ${p.done}/${p.total} ${(frac * 100).toFixed(0).padStart(3)}%  ${rate}/s  ${fmtEta(p.etaSec)}${p.message ? `  ${p.message}` : ''}`;
}

/**
 * Progress on stderr: a redrawn bar on a terminal, a line every few seconds otherwise (logs),
 * nothing under --json.
 */
export function progressPrinter(out: Output): ProgressListener | undefined {
  if (out.json) return undefined;
  let last = 0;
  let lastStage = '';
  return (p) => {
    const now = Date.now();
    const finished = p.total !== null && p.done >= p.total;
    if (out.tty) {
      if (now - last < 100 && !finished && p.stage === lastStage) return;
      process.stderr.write(`\r\x1b[2K${formatProgress(p)}${finished ? '\n' : ''}`);
    } else {
      if (now - last < 5000 && !finished && p.stage === lastStage) return;
      process.stderr.write(formatProgress(p) + '\n');
    }
    last = now;
    lastStage = p.stage;
  };
}
