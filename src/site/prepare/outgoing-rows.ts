/**
 * The conditioning rows of a package, computed one at a time as the package is written: a row
 * lives only while it is encoded, so memory does not grow with the number of rows. Members share
 * their prompt's vector, so the groups themselves are cheap (references, not copies).
 */
import { type PrivatizeOptions, privatizeMeans, rowNoise } from '../privacy/differential-privacy';

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

export type DpParameters = { epsilon: number; delta: number; clip: number; sigmaMax: number };

/**
 * The package's ε and largest σ for rows of these sizes (in units), before any noise is drawn
 * (they go into the package header, which is written first): a pure function of the row sizes
 * and the options (rowNoise), the same one privatizeMeans uses.
 */
export function dpParameters(
  counts: readonly number[],
  options: Omit<PrivatizeOptions, 'rng'>,
): DpParameters {
  const rows = counts.map((n) => rowNoise(n, options));
  return {
    epsilon: rows.reduce((m, r) => Math.max(m, r.epsilon), 0),
    delta: options.delta,
    clip: options.clip,
    sigmaMax: rows.reduce((m, r) => Math.max(m, r.sigma), 0),
  };
}

/** A row's one vector per privacy unit: the mean of that unit's members (one bounded contribution per unit). */
export function unitVectors(units: readonly (readonly Float32Array[])[]): Float32Array[] {
  return units.map((u) => (u.length === 1 ? (u[0] as Float32Array) : memberMean(u)));
}

export type OutgoingRows = {
  /** One row per group, in order, computed when asked for. Iterate once. */
  rows: Iterable<Float32Array>;
  /** After the rows were consumed: the ε and largest σ the noise actually used (null without DP). */
  used(): { epsilon: number; sigmaMax: number } | null;
};

/**
 * Rows from groups of units of member vectors: each unit first becomes one vector (its members'
 * mean), then the row is the plain mean of its unit vectors, or with DP the clipped, averaged and
 * noised mean of privatizeMeans (one row per call, one shared generator: the same mechanism and
 * draws as a single call over all groups).
 */
export function outgoingRows(
  rowUnits: readonly (readonly (readonly Float32Array[])[])[],
  dp: (PrivatizeOptions & { rng: NonNullable<PrivatizeOptions['rng']> }) | null,
): OutgoingRows {
  let epsilon = 0;
  let sigmaMax = 0;
  function* rows(): Generator<Float32Array> {
    for (const units of rowUnits) {
      const members = unitVectors(units);
      if (!dp) {
        yield memberMean(members);
        continue;
      }
      const r = privatizeMeans([members], dp);
      epsilon = Math.max(epsilon, r.epsilon);
      sigmaMax = Math.max(sigmaMax, r.sigmaMax);
      yield r.rows[0]!.cond;
    }
  }
  return { rows: rows(), used: () => (dp ? { epsilon, sigmaMax } : null) };
}
