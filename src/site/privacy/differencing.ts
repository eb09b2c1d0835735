/**
 * No differencing: two non-DP releases whose rows differ by a few units give those units away.
 * Prepare class rows on a folder, add one image, prepare again: 13·m₂ − 12·m₁ is the new image's
 * conditioning. A new non-DP row (or a class's union of rows) is refused when it differs from an
 * earlier release's row (or union) of the same study and class by at least one and fewer than k
 * units. DP rows are exempt: the noise covers what one unit changes.
 */
import type { ReleasedRow } from '../ledger/released-rows-repo';

export type DifferencingConflict = {
  label: number;
  packageSha256: string;
  differ: number;
  scope: 'row' | 'class';
};

/** Size of the symmetric difference of two sets of unit keys. */
export function unitDifference(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let d = 0;
  for (const x of sa) if (!sb.has(x)) d++;
  for (const x of sb) if (!sa.has(x)) d++;
  return d;
}

/**
 * Conflicts between the new non-DP rows and earlier non-DP rows: pairwise per class, and the
 * union of each class's rows per package (so a cluster split cannot hide the difference).
 */
export function findDifferencing(
  newRows: readonly { label: number; units: readonly string[] }[],
  earlier: readonly ReleasedRow[],
  k: number,
): DifferencingConflict[] {
  const out: DifferencingConflict[] = [];
  const old = earlier.filter((r) => !r.dp);
  const close = (d: number) => d > 0 && d < k;
  for (const row of newRows)
    for (const o of old) {
      if (o.label !== row.label) continue;
      const d = unitDifference(row.units, o.units);
      if (close(d))
        out.push({ label: row.label, packageSha256: o.packageSha256, differ: d, scope: 'row' });
    }
  const union = (rows: readonly { label: number; units: readonly string[] }[], label: number) =>
    rows.filter((r) => r.label === label).flatMap((r) => r.units);
  const labels = new Set(newRows.map((r) => r.label));
  const packages = new Set(old.map((r) => r.packageSha256));
  for (const label of labels)
    for (const sha of packages) {
      const before = union(
        old.filter((r) => r.packageSha256 === sha),
        label,
      );
      if (before.length === 0) continue;
      const d = unitDifference(union(newRows, label), before);
      if (close(d) && !out.some((c) => c.label === label && c.packageSha256 === sha))
        out.push({ label, packageSha256: sha, differ: d, scope: 'class' });
    }
  return out;
}
