/** Scales and ticks for the hand-drawn SVG plots (no chart library). */

export type Scale = (v: number) => number;

/** Linear map from [d0, d1] to [r0, r1]; a zero-width domain maps to the middle of the range. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  if (d1 === d0) return () => (r0 + r1) / 2;
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** [min, max] of the values, widened by `pad` of the span on each side; [0, 1] when empty. */
export function paddedExtent(values: readonly number[], pad = 0.05): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** Roughly `count` round tick values (1, 2 or 5 × 10^n steps) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo || count < 1) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The round step whose tick count comes closest to the one asked for.
  const span = hi - lo;
  const step = [1, 2, 5, 10]
    .map((m) => m * mag)
    .reduce((best, s) => (Math.abs(span / s - count) < Math.abs(span / best - count) ? s : best));
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step); i * step <= hi + step * 1e-9; i++)
    ticks.push(Number((i * step).toFixed(12)) || 0);
  return ticks;
}

/** Colour for class i of n: evenly spaced hues, readable on white. */
export function classColour(i: number, n: number): string {
  const hue = Math.round((360 * i) / Math.max(1, n) + 210) % 360;
  return `hsl(${hue} 65% 42%)`;
}

/** Heat-map fill for a share in [0, 1]: white to the accent blue. */
export function heatColour(share: number): string {
  const s = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0));
  return `hsl(215 70% ${Math.round(97 - s * 55)}%)`;
}
