/**
 * Stages 5–7 of prepare: which rows a release has and which of them may leave.
 *
 *   cohorts        without DP: k-cohort rows over privacy units (k-cohort.ts); with DP: the
 *                  study's public bins (dp-bins.ts), so the row structure depends on the data only
 *                  through the mechanism;
 *   singling-out   without DP: each row's released vector against its own units' (instance rows:
 *                  the row's text against every local image); with DP not applied (rows are dropped
 *                  only by the noisy count);
 *   parameters     with DP: the mechanism's σ, σ/C and threshold, a pure function of public
 *                  settings (dpReleaseParameters), and the budget check by content;
 *   differencing   without DP: a row a few units away from an earlier release's is refused.
 * No noise is drawn here: with DP the result is a plan, drawn once on approval (release-plan.ts).
 */
import { l2Normalize } from '../../core/tfjs/l2-normalize';
import type { Aggregation, PrivacyPolicy, PromptMode, StudyManifest } from '../../shared/study';
import type { PrivacyReport } from '../../shared/privacy-report';
import { PrepareError } from '../prepare/prepare-error';
import { memberMean, unitVectors } from '../prepare/outgoing-rows';
import type { ReleasedRow } from '../ledger/released-rows-repo';
import { findDifferencing } from './differencing';
import { budgetCheck } from './differential-privacy';
import { binRows, publicBins } from './dp-bins';
import { dpGuaranteeText, dpReleaseParameters, type DpReleaseParameters } from './dp-release';
import { buildCohorts, type CohortItem, type CohortResult } from './k-cohort';
import type { PrivacyUnits } from './privacy-units';
import { checkReleasedVector, checkSinglingOut, type SinglingOutResult } from './singling-out';

/** What k-cohort gets for conditioning: nothing (rows' means are computed when written); one shared empty vector. */
const NO_CONDITIONING = new Float32Array(0);

const mean = (vs: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  for (let i = 0; i < out.length; i++) out[i]! /= vs.length;
  return out;
};

export type RowPlan = {
  cohorts: CohortResult;
  /** Each row's distinct prompts. */
  rowPrompts: string[][];
  /** Each row's text direction (mean CLIP text of its prompts), or null. */
  rowText(i: number): Float32Array | null;
  singling: SinglingOutResult[];
  /** Class-template instance rows carry no image-derived text. */
  imageDerived: boolean;
  dpPlan: DpReleaseParameters | null;
  /** The report's DP section (spent so far, the total after approval), or null. */
  dp: PrivacyReport['dp'];
  blocked(i: number): boolean;
  /** Rows that leave (with DP: every bin; which are sent is decided by the noise on approval). */
  sendIdx: number[];
  /** Per row that leaves: its label and the content keys of its units (for the differencing record). */
  released: { label: number; units: string[] }[];
  messages: string[];
};

export function planRows(o: {
  study: StudyManifest;
  policy: PrivacyPolicy;
  promptMode: PromptMode;
  aggregation: Aggregation;
  /** Each image's class index, CLIP embedding and prompt; the vocabulary phrase that is its DP bin. */
  labels: readonly number[];
  clip: readonly Float32Array[];
  prompts: readonly string[];
  topPhrase: readonly string[];
  units: PrivacyUnits;
  cond: ReadonlyMap<string, Float32Array>;
  textClip: ReadonlyMap<string, Float32Array>;
  rowLen: number;
  dpEpsilon?: number | null | undefined;
  dpClip?: number | undefined;
  seed?: number | undefined;
  /** The most ε any of these units has spent (site ledger and machine-wide record). */
  spent(): number;
  /** Rows released earlier for this study (differencing). */
  earlier(): ReleasedRow[];
}): RowPlan {
  const { policy, units } = o;
  const messages: string[] = [];
  const condOf = (i: number) => o.cond.get(o.prompts[i]!)!;
  const items: CohortItem[] = o.labels.map((label, i) => ({ label, clip: o.clip[i]!, cond: NO_CONDITIONING, unit: units.unitOf[i]! }));
  const withDp = o.dpEpsilon !== undefined && o.dpEpsilon !== null;
  if (withDp && o.aggregation === 'instance')
    throw new PrepareError('Instance rows cannot be released with differential privacy: one row per image would show which images exist.', 'Use --aggregate class: with DP, rows are the study’s public bins (class, or class × vocabulary phrase).');
  let cohorts: CohortResult;
  if (withDp) {
    const bins = publicBins(o.study, o.promptMode);
    const binIndex = new Map(bins.map((b, j) => [`${b.label}\0${b.phrase ?? ''}`, j]));
    const rows = binRows(o.labels.length, bins, (i) => binIndex.get(`${o.labels[i]!}\0${o.promptMode === 'vocabulary' ? o.topPhrase[i]! : ''}`)!, (i) => units.unitOf[i]!);
    const clipDim = o.clip[0]!.length;
    for (const r of rows) r.centroid = r.members.length > 0 ? mean(r.members.map((m) => o.clip[m]!)) : new Float32Array(clipDim);
    cohorts = { mode: 'class', k: policy.k, rows, suppressed: [] };
    if (o.aggregation === 'cluster') messages.push('With differential privacy the rows are the study’s public bins (class, or class × vocabulary phrase), not clusters: clusters of private embeddings would fall outside the guarantee.');
  } else cohorts = buildCohorts(items, { mode: o.aggregation, policy, seed: o.seed ?? 0 });

  const rowPrompts = cohorts.rows.map((r) => [...new Set(r.members.map((m) => o.prompts[m]!))]);
  const rowText = (i: number) => (rowPrompts[i]!.length > 0 ? l2Normalize(mean(rowPrompts[i]!.map((p) => o.textClip.get(p)!))) : null);
  const imageDerived = o.promptMode !== 'class';
  const notApplied: SinglingOutResult = { ratio: NaN, nearest: NaN, kth: NaN, nearestIndex: -1, blocked: false, reason: null };
  const singling =
    o.aggregation === 'instance'
      ? checkSinglingOut(cohorts.rows.map((r, i) => ({ text: rowText(i), centroid: r.centroid })), o.clip, policy)
      : cohorts.rows.map((r) => {
          if (withDp || r.units.length === 0) return notApplied;
          const uv = unitVectors(r.units.map((u) => u.map(condOf)));
          return checkReleasedVector(memberMean(uv), uv, policy);
        });

  let dp: PrivacyReport['dp'] = null;
  const dpPlan = withDp ? dpReleaseParameters({ epsilon: o.dpEpsilon!, delta: policy.delta, clip: o.dpClip ?? Math.sqrt(o.rowLen), k: policy.k }) : null;
  if (dpPlan) {
    const spent = o.spent();
    const check = budgetCheck(spent, dpPlan.epsilon, policy.maxEpsilon);
    if (!check.ok) throw new PrepareError(check.message, 'ε is charged to the images themselves (by content): another folder, a copy, a link or another FGL_HOME of this account finds the same spend.');
    dp = { epsilon: dpPlan.epsilon, delta: dpPlan.delta, clip: dpPlan.clip, sigmaMax: dpPlan.sigma, sigmaCount: dpPlan.sigmaCount, threshold: dpPlan.threshold, adjacency: dpPlan.adjacency, unit: units.kind, ...dpGuaranteeText(dpPlan, units.kind), spentBefore: spent, totalAfter: check.total, budget: policy.maxEpsilon };
  }
  const blocked = (i: number) => (dpPlan ? false : singling[i]!.blocked && (o.aggregation !== 'instance' || imageDerived));
  const sendIdx = cohorts.rows.map((_, i) => i).filter((i) => !blocked(i));
  if (sendIdx.length === 0) throw new PrepareError('Every row was blocked by the privacy checks; nothing would leave.', 'Use a coarser aggregation (class), a larger dataset, or class prompts.');
  const released = sendIdx.map((i) => ({ label: cohorts.rows[i]!.label, units: cohorts.rows[i]!.units.map((u) => units.keys[units.unitOf[u[0]!]!]!) }));
  if (!withDp && o.aggregation !== 'instance') {
    const conflicts = findDifferencing(released, o.earlier(), policy.k);
    if (conflicts.length > 0) {
      const c = conflicts[0]!;
      throw new PrepareError(
        `Refused: class "${o.study.classes[c.label]}" would differ from an earlier package (${c.packageSha256.slice(0, 12)}…) by ${c.differ} patient(s)/picture(s), fewer than k = ${policy.k}${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more such rows)` : ''}. Whoever holds both packages could subtract them and recover what those few images contribute.`,
        `Wait until at least ${policy.k} new images (or patients) differ from the earlier package, or prepare with differential privacy (--dp-epsilon), whose noise covers what one image changes.`,
      );
    }
  }
  return { cohorts, rowPrompts, rowText, singling, imageDerived, dpPlan, dp, blocked, sendIdx, released, messages };
}
