/** Folder names often differ from class names only in case or separators: `Red_Circle` = `red circle`. */
export function labelKey(s: string): string {
  return s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
}

export type LabelMatch = {
  /** Dataset label → index into the model's classes, for every label the model knows. */
  index: Map<string, number>;
  /** Dataset labels the model has no class for, with their image counts. */
  excluded: { label: string; images: number }[];
  /** Labels matched to a class of another spelling. */
  renamed: { label: string; class: string }[];
  /** Model classes no dataset label maps to. */
  classesWithoutImages: string[];
};

/**
 * Maps dataset labels to the model's classes by name: exact match first, then by `labelKey` when
 * that key names exactly one class (an ambiguous key matches nothing rather than guessing).
 */
export function matchLabels(counts: ReadonlyMap<string, number>, classes: readonly string[]): LabelMatch {
  const exact = new Map(classes.map((c, i) => [c, i]));
  const byKey = new Map<string, number[]>();
  classes.forEach((c, i) => byKey.set(labelKey(c), [...(byKey.get(labelKey(c)) ?? []), i]));
  const index = new Map<string, number>();
  const excluded: LabelMatch['excluded'] = [];
  const renamed: LabelMatch['renamed'] = [];
  const sorted = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [label, images] of sorted) {
    const e = exact.get(label);
    if (e !== undefined) {
      index.set(label, e);
      continue;
    }
    const candidates = byKey.get(labelKey(label)) ?? [];
    if (candidates.length === 1) {
      index.set(label, candidates[0]!);
      renamed.push({ label, class: classes[candidates[0]!]! });
    } else excluded.push({ label, images });
  }
  const used = new Set([...index].filter(([label]) => (counts.get(label) ?? 0) > 0).map(([, i]) => i));
  return { index, excluded, renamed, classesWithoutImages: classes.filter((_, i) => !used.has(i)) };
}
