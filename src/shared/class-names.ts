/**
 * The one class-name rule of FGL, for prepare, evaluate, the UI and study creation: names are
 * compared trimmed, case-insensitively, with runs of spaces, `_` and `-` as one space, so a
 * folder `Red_Circle` is the class `red circle`, and a study cannot have both `Normal` and `normal`.
 */
export function labelKey(s: string): string {
  return s.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
}

/** The first two names that the rule makes the same class, or null when all are distinct. */
export function sameClassPair(classes: readonly string[]): [string, string] | null {
  const seen = new Map<string, string>();
  for (const c of classes) {
    const k = labelKey(c);
    const first = seen.get(k);
    if (first !== undefined) return [first, c];
    seen.set(k, c);
  }
  return null;
}

/** An operator's explicit choice per dataset label: a class name of the study, or null to leave it out. */
export type ClassMap = Readonly<Record<string, string | null>>;

/** The first entry of an operator's map that names a class the study does not have, or null. */
export function unknownClassTarget(classMap: ClassMap, classes: readonly string[]): [folder: string, cls: string] | null {
  const hit = Object.entries(classMap).find(([, c]) => c !== null && !classes.includes(c));
  return hit ? [hit[0], hit[1]!] : null;
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
 * Maps dataset labels to the model's classes: the operator's `classMap` first (a class name, or
 * null to leave the label out), then exact match, then by `labelKey` when that key names exactly
 * one class (an ambiguous key matches nothing rather than guessing).
 */
export function matchLabels(counts: ReadonlyMap<string, number>, classes: readonly string[], classMap: ClassMap = {}): LabelMatch {
  const exact = new Map(classes.map((c, i) => [c, i]));
  const byKey = new Map<string, number[]>();
  classes.forEach((c, i) => byKey.set(labelKey(c), [...(byKey.get(labelKey(c)) ?? []), i]));
  const index = new Map<string, number>();
  const excluded: LabelMatch['excluded'] = [];
  const renamed: LabelMatch['renamed'] = [];
  const sorted = [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [label, images] of sorted) {
    if (Object.prototype.hasOwnProperty.call(classMap, label)) {
      const chosen = classMap[label];
      const i = chosen === null || chosen === undefined ? undefined : exact.get(chosen);
      if (i === undefined) excluded.push({ label, images });
      else {
        index.set(label, i);
        if (chosen !== label) renamed.push({ label, class: chosen! });
      }
      continue;
    }
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
