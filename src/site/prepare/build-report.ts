/**
 * Stage 9 of prepare: the privacy report (local), with every row's checks and a 2-D projection of
 * the rows among the local images (one point per row, blocked rows included, so point i is row i).
 */
import { PACKAGE_TENSORS } from '../../shared/package-format';
import { checkedReport, type PrivacyReport, type ReportRow, type RowCheck } from '../../shared/privacy-report';
import type { PrivacyPolicy, StudyManifest } from '../../shared/study';
import type { ScanResult } from '../dataset/scan-result';
import type { PromptedImages } from '../prompts/prompt-stage';
import type { PrivacyUnits } from '../privacy/privacy-units';
import type { RowPlan } from '../privacy/plan-rows';
import { pca2d, project } from '../report/pca';
import type { SiteModels } from './site-models';

export function buildReport(o: {
  appVersion: string;
  study: StudyManifest;
  siteId: string;
  tinyModels: boolean;
  models: Pick<SiteModels, 'clipDigest' | 'encoder' | 'devices'>;
  captionerDigest: string | null;
  root: string;
  scan: ScanResult;
  images: readonly { label: string }[];
  clip: readonly Float32Array[];
  units: PrivacyUnits;
  prompted: PromptedImages;
  plan: RowPlan;
  policy: PrivacyPolicy;
  settings: PrivacyReport['settings'];
  outgoing: PrivacyReport['outgoing'];
  messages: string[];
}): PrivacyReport {
  const { plan, policy, units } = o;
  const { cohorts, dpPlan, singling, blocked, dp } = plan;
  const rowVectors = cohorts.rows.map((r, i) => plan.rowText(i) ?? r.centroid);
  const fit = pca2d([...o.clip, ...rowVectors]);
  const localPts = project(o.clip, fit);
  const outPts = project(rowVectors, fit);
  const unitWord = units.kind === 'image' ? 'pictures' : 'patients/pictures';
  const aggregation = o.settings.aggregation;
  const rows: ReportRow[] = cohorts.rows.map((r, i) => {
    const s = singling[i]!;
    const checks: RowCheck[] = [
      dpPlan
        ? { name: 'k-cohort', passed: true, detail: `DP: sent only if its noisy count, drawn once on approval, reaches ${dpPlan.threshold.toFixed(1)} (exact: ${r.count} distinct ${unitWord}, local only)` }
        : aggregation === 'instance'
          ? { name: 'k-cohort', passed: true, detail: 'waived by the study (instance rows allowed): one image per row, k = 1' }
          : { name: 'k-cohort', passed: r.count >= policy.k, detail: `${r.count} distinct ${unitWord} in ${r.members.length} files (k = ${policy.k})` },
      dpPlan
        ? { name: 'singling-out', passed: true, detail: 'covered by differential privacy (rows are dropped only by the noisy count)' }
        : aggregation === 'instance' && !plan.imageDerived
          ? { name: 'singling-out', passed: true, detail: 'not applicable: the study’s class template, no image-derived text' }
          : { name: 'singling-out', passed: !s.blocked, detail: s.blocked ? (s.reason ?? 'points at one image') : `vector sent: ratio ${s.ratio.toFixed(3)} ≤ ${policy.singlingOutRatio}` },
    ];
    if (o.settings.promptMode === 'instance') {
      const found = r.members.reduce((a, m) => a + (o.prompted.phiPerImage[m]?.reduce((x, f) => x + f.count, 0) ?? 0), 0);
      checks.push({ name: 'phi-scrub', passed: true, detail: found > 0 ? `${found} PHI matches ${policy.phiAction === 'drop' ? 'dropped' : 'redacted'}` : 'no PHI found' });
    }
    if (dp) checks.push({ name: 'differential-privacy', passed: true, detail: `ε ${dp.epsilon.toFixed(3)}, δ ${dp.delta}` });
    const rp = plan.rowPrompts[i]!;
    return { index: i, label: o.study.classes[r.label]!, prompt: rp.length === 1 ? rp[0]! : null, prompts: rp.slice(0, 20), images: r.members.length, units: r.count, blocked: blocked(i), checks };
  });
  const skippedByReason = new Map<string, number>();
  for (const s of o.scan.skipped) skippedByReason.set(s.reason, (skippedByReason.get(s.reason) ?? 0) + 1);
  return checkedReport({
    format: 'fgl-privacy-report',
    version: 1,
    createdAt: new Date().toISOString(),
    appVersion: o.appVersion,
    study: { id: o.study.id, name: o.study.name },
    siteId: o.siteId,
    tinyModels: o.tinyModels,
    models: {
      clip: { id: o.study.clip.id, digest: o.models.clipDigest },
      encoder: { id: o.study.encoder.id, digest: o.models.encoder.digest, dim: o.models.encoder.dim },
      captioner: o.study.captioner && o.captionerDigest ? { id: o.study.captioner.id, digest: o.captionerDigest } : null,
    },
    devices: o.models.devices,
    dataset: { root: o.root, images: o.images.length, units: { kind: units.kind, count: units.keys.length, merged: units.merged }, classes: o.scan.classes, skipped: [...skippedByReason].map(([reason, count]) => ({ reason, count })) },
    settings: o.settings,
    outgoing: { ...o.outgoing, tensors: Object.values(PACKAGE_TENSORS) },
    ...(dpPlan ? { release: { state: 'plan' as const } } : {}),
    rows,
    suppressed: cohorts.suppressed.map((s) => ({ label: o.study.classes[s.label]!, images: s.count, reason: s.reason })),
    phi: o.prompted.phi,
    dp,
    projection: {
      outgoing: outPts,
      local: localPts.map(([x, y], i) => ({ x, y, label: o.images[i]!.label, imageId: i })),
      explainedVariance: fit.explainedVariance,
    },
    messages: o.messages,
  });
}
