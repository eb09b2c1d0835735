/** The Prepare screen's numeric fields, checked here (pure, unit-tested) instead of by the browser. */

export type PrepareFormInput = { k: string; useDp: boolean; epsilon: string };
export type PrepareFormStudy = { k: number; maxEpsilon: number | null };
export type PrepareFormCheck =
  | { ok: true; k: number | undefined; dpEpsilon: number | null }
  | { ok: false; errors: { k?: string; epsilon?: string } };

/** `1`, `2`, `0.5`, ` 0,5 ` (a decimal comma) → the number; anything else → null. */
export function parseDecimal(text: string): number | null {
  const t = text.trim().replace(',', '.');
  if (!/^(\d+\.?\d*|\.\d+)$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/**
 * k must be a whole number at least the study's floor (empty = the study's); ε a positive number
 * within the study's budget. Every refusal says what to type instead.
 */
export function checkPrepareForm(f: PrepareFormInput, study: PrepareFormStudy): PrepareFormCheck {
  const errors: { k?: string; epsilon?: string } = {};
  let k: number | undefined;
  if (f.k.trim() !== '') {
    const n = parseDecimal(f.k);
    if (n === null || !Number.isInteger(n)) errors.k = `k must be a whole number, such as ${study.k}.`;
    else if (n < study.k) errors.k = `k must be at least ${study.k}, the study's minimum; you may choose more.`;
    else k = n;
  }
  let dpEpsilon: number | null = null;
  if (f.useDp) {
    const n = parseDecimal(f.epsilon);
    const max = study.maxEpsilon;
    if (n === null) errors.epsilon = `ε must be a number such as 1, 2 or 0.5 (you typed "${f.epsilon.trim()}").`;
    else if (n <= 0) errors.epsilon = 'ε must be more than 0: smaller is more private, 0 would allow no release at all.';
    else if (max !== null && n > max) errors.epsilon = `ε must be at most ${max}, this study's budget per dataset.`;
    else dpEpsilon = n;
  }
  if (errors.k !== undefined || errors.epsilon !== undefined) return { ok: false, errors };
  return { ok: true, k, dpEpsilon };
}
