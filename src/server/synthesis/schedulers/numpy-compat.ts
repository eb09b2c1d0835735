/**
 * The few numpy routines diffusers' schedulers call, reproduced operation for operation so that
 * timesteps and sigmas come out identical (including numpy's round-half-to-even and its float
 * `arange` fill).
 */

/** `np.round`: halves go to the even neighbour (499.5 -> 500, 166.5 -> 166), unlike Math.round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; pull those that landed on an odd integer back down.
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.linspace(start, stop, num)` in float64: `i * step + start`, with the last value set to `stop`. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num <= 0) return [];
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

/** `np.arange(start, stop, step)` for floats: length ceil((stop-start)/step), values start + i*delta. */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  if (length === 0) return [];
  // numpy fills from the first two entries, so its effective step is (start + step) - start.
  const delta = start + step - start;
  return Array.from({ length }, (_, i) =>
    i === 0 ? start : i === 1 ? start + step : start + i * delta,
  );
}

/** `np.interp(x, arange(0, fp.length), fp)`: linear interpolation on integer knots, clamped at the ends. */
export function interpOnIndex(x: number, fp: ArrayLike<number>): number {
  const last = fp.length - 1;
  if (x <= 0) return fp[0]!;
  if (x >= last) return fp[last]!;
  const j = Math.floor(x);
  if (j === x) return fp[j]!;
  const slope = fp[j + 1]! - fp[j]!;
  return slope * (x - j) + fp[j]!;
}
