import { CONDITIONING_TOKENS, type EmbeddingPackage } from '../../shared/embedding-package';

/** One conditioning row of a package, the unit synthesis generates `imagesPerRow` images for. */
export type SynthesisRow = {
  /** Row index in the package (part of each image's seed and file name). */
  row: number;
  /** Index into the study's classes. */
  label: number;
  className?: string;
  /** [77, D]. */
  conditioning: Float32Array;
};

/** A decoded package's rows (views, no copies); with `classes`, each row gets its class name and labels are range-checked. */
export function packageRows(
  pkg: Pick<EmbeddingPackage, 'n' | 'dim' | 'conditioning' | 'labels'>,
  classes?: readonly string[],
): SynthesisRow[] {
  const size = CONDITIONING_TOKENS * pkg.dim;
  const rows: SynthesisRow[] = [];
  for (let row = 0; row < pkg.n; row++) {
    const label = pkg.labels[row]!;
    if (classes && label >= classes.length) {
      throw new Error(
        `Package row ${row} has label ${label}, but the study has ${classes.length} classes; the package was made for another study.`,
      );
    }
    rows.push({
      row,
      label,
      ...(classes ? { className: classes[label]! } : {}),
      conditioning: pkg.conditioning.subarray(row * size, (row + 1) * size),
    });
  }
  return rows;
}
