/**
 * The conditioning rows of a non-DP package, computed one at a time as the package is written: a
 * row lives only while it is encoded, so memory does not grow with the number of rows. Members
 * share their prompt's vector, so the groups themselves are cheap (references, not copies).
 * DP rows come from privacy/dp-release.ts (noisyBinRow), over the same unit vectors.
 */

/**
 * Mean of the members' flattened [77·D] vectors, exactly as k-cohort computes a row's `cond`
 * (float64 sum in member order, divided by n, rounded to float32), so streaming changes no value.
 */
export function memberMean(vectors: readonly Float32Array[]): Float32Array {
  const dim = vectors[0]!.length;
  const sum = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) sum[i]! += v[i]!;
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = sum[i]! / vectors.length;
  return out;
}

/** A row's one vector per privacy unit: the mean of that unit's members (one bounded contribution per unit). */
export function unitVectors(units: readonly (readonly Float32Array[])[]): Float32Array[] {
  return units.map((u) => (u.length === 1 ? (u[0] as Float32Array) : memberMean(u)));
}

/**
 * Rows from groups of units of member vectors: each unit first becomes one vector (its members'
 * mean), then the row is the mean of its unit vectors. Lazy: iterate once.
 */
export function* outgoingRows(
  rowUnits: readonly (readonly (readonly Float32Array[])[])[],
): Generator<Float32Array> {
  for (const units of rowUnits) yield memberMean(unitVectors(units));
}
