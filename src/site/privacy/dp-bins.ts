/**
 * The public bins of a DP release (privacy/dp-release.ts): fixed by the study before any data is
 * read, one per class, or one per (class, vocabulary phrase) for vocabulary prompts. Each privacy
 * unit falls in exactly one bin: the bin of its first image (contribution bounding), so bins hold
 * disjoint units.
 */
import type { PromptMode, StudyManifest } from '../../shared/study';
import type { CohortRow } from './k-cohort';

export type PublicBin = { label: number; phrase: string | null };

export function publicBins(study: StudyManifest, promptMode: PromptMode): PublicBin[] {
  return study.classes.flatMap((_, label): PublicBin[] =>
    promptMode === 'vocabulary'
      ? study.prompts.vocabulary.map((phrase) => ({ label, phrase }))
      : [{ label, phrase: null }],
  );
}

/**
 * One row per public bin, empty bins included (their noisy counts are drawn too). `binOf(i)` is
 * image i's bin; `unitOf(i)` its unit. Rows carry members and units like k-cohort rows (local
 * only); `cond` and `centroid` are left empty here.
 */
export function binRows(
  n: number,
  bins: readonly PublicBin[],
  binOf: (i: number) => number,
  unitOf: (i: number) => number,
): CohortRow[] {
  const unitBin = new Map<number, number>();
  const rows: CohortRow[] = bins.map((b) => ({
    label: b.label,
    count: 0,
    units: [],
    members: [],
    cond: new Float32Array(0),
    centroid: new Float32Array(0),
  }));
  const unitRow = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const u = unitOf(i);
    let bin = unitBin.get(u);
    if (bin === undefined) unitBin.set(u, (bin = binOf(i)));
    const row = rows[bin]!;
    row.members.push(i);
    let members = unitRow.get(u);
    if (!members) {
      unitRow.set(u, (members = []));
      row.units.push(members);
      row.count++;
    }
    members.push(i);
  }
  return rows;
}
