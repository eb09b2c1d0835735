import { createHash } from 'node:crypto';
import type { EmbeddingPackage } from '../../shared/embedding-package';
import { studyManifestCanonicalJson, type StudyManifest } from '../../shared/study';

export type PackageRejection = { status: 400 | 422; code: string; message: string; hint: string };

function short(hex: string): string {
  return `${hex.slice(0, 12)}…`;
}

/**
 * Check a decoded package against the study it was sent to and the site that sent it. Returns
 * the first violation, or null when the package is acceptable. Structure (tensor names, dtypes,
 * shapes, finiteness, labels ≥ 0, counts ≥ 1) is already enforced by `decodePackage`.
 */
export function checkPackagePolicy(
  pkg: EmbeddingPackage,
  study: StudyManifest,
  siteId: string,
): PackageRejection | null {
  const m = pkg.metadata;
  const policy = study.privacy;
  if (m.study_id !== study.id)
    return {
      status: 422,
      code: 'package_wrong_study',
      message: `Package rejected: it was prepared for study "${m.study_id}" but was sent to study "${study.id}"`,
      hint: 'Upload it to the study it was prepared for, or prepare a new package for this study.',
    };
  if (m.site_id !== siteId)
    return {
      status: 422,
      code: 'package_wrong_site',
      message: `Package rejected: its metadata names site "${m.site_id}" but the API key belongs to site "${siteId}"`,
      hint: 'Prepare the package with the site id this server assigned at enrollment.',
    };
  if (m.encoder_id !== study.encoder.id || m.encoder_sha256 !== study.encoder.sha256)
    return {
      status: 422,
      code: 'encoder_mismatch',
      message:
        `Package rejected: made with encoder ${m.encoder_id} (sha256 ${short(m.encoder_sha256)}) but the study requires ` +
        `${study.encoder.id} (sha256 ${short(study.encoder.sha256)})`,
      hint: "Install the study's exact text encoder (see GET /v1/studies/:id/manifest) and prepare the package again.",
    };
  if (m.study_sha256 !== undefined) {
    const ours = createHash('sha256').update(studyManifestCanonicalJson(study)).digest('hex');
    if (m.study_sha256 !== ours)
      return {
        status: 422,
        code: 'study_manifest_mismatch',
        message: `Package rejected: it was prepared against a study manifest with sha256 ${short(m.study_sha256)}, but this study's manifest hashes to ${short(ours)}`,
        hint: 'The site used an outdated or altered copy of the study: fetch the manifest again (GET /v1/studies/:id/manifest) and prepare a new package.',
      };
  }
  if (
    m.singling_out_ratio !== undefined &&
    m.singling_out_ratio !== null &&
    m.singling_out_ratio > policy.singlingOutRatio
  )
    return {
      status: 422,
      code: 'singling_out_ratio_above_policy',
      message: `Package rejected: its rows passed a singling-out threshold of ${m.singling_out_ratio}, looser than the study's ${policy.singlingOutRatio}`,
      hint: `Prepare it again with the study's singling-out ratio (≤ ${policy.singlingOutRatio}).`,
    };
  if (m.prompt_mode === 'instance' && policy.phiAction === 'drop' && m.phi_action === 'redact')
    return {
      status: 422,
      code: 'phi_action_not_allowed',
      message:
        'Package rejected: captions with PHI were redacted, but the study requires dropping them',
      hint: 'Prepare it again with the study’s PHI action (drop captions with PHI).',
    };
  if (pkg.dim !== study.encoder.dim)
    return {
      status: 422,
      code: 'dimension_mismatch',
      message:
        `Package rejected: conditioning has shape [${pkg.n}, 77, ${pkg.dim}] but the study's encoder produces ` +
        `[*, 77, ${study.encoder.dim}] (encoder sha256 ${short(study.encoder.sha256)})`,
      hint: "Prepare the package with the study's text encoder.",
    };
  for (let i = 0; i < pkg.n; i++) {
    const label = pkg.labels[i]!;
    if (label >= study.classes.length)
      return {
        status: 422,
        code: 'label_out_of_range',
        message: `Package rejected: row ${i} has label ${label} but the study has ${study.classes.length} classes (0..${study.classes.length - 1})`,
        hint: "Labels are indices into the study's classes; map the dataset's labels to the study's class list.",
      };
  }
  if (!study.prompts.modes.includes(m.prompt_mode))
    return {
      status: 422,
      code: 'prompt_mode_not_allowed',
      message: `Package rejected: prompt mode "${m.prompt_mode}" is not one of the study's modes (${study.prompts.modes.join(', ')})`,
      hint: "Prepare the package with one of the study's prompt modes.",
    };
  if (m.aggregation === 'instance' && !policy.allowInstance)
    return {
      status: 422,
      code: 'instance_rows_not_allowed',
      message:
        'Package rejected: it holds one row per image (aggregation "instance") and the study forbids instance rows',
      hint: `Aggregate rows by cluster or class with k ≥ ${policy.k}.`,
    };
  if (m.aggregation !== 'instance') {
    if (m.k < policy.k)
      return {
        status: 422,
        code: 'k_below_policy',
        message: `Package rejected: it was prepared with k = ${m.k} but the study requires k ≥ ${policy.k}`,
        hint: `Prepare it again with k ≥ ${policy.k}.`,
      };
    // A row must really aggregate what the metadata claims: counts are checked, not trusted.
    const minCount = Math.max(policy.k, m.k);
    for (let i = 0; i < pkg.n; i++) {
      if (pkg.counts[i]! < minCount)
        return {
          status: 422,
          code: 'count_below_k',
          message: `Package rejected: row ${i} represents ${pkg.counts[i]} images, below k = ${minCount}`,
          hint: 'Every aggregated row must represent at least k images; prepare the package again.',
        };
    }
  }
  if (m.dp_epsilon !== null && !(m.dp_epsilon > 0))
    return {
      status: 422,
      code: 'invalid_dp_parameters',
      message: `Package rejected: DP ε = ${m.dp_epsilon} must be positive`,
      hint: 'Prepare the package again with valid DP parameters.',
    };
  if (policy.maxEpsilon !== null) {
    if (m.dp_epsilon === null)
      return {
        status: 422,
        code: 'dp_required',
        message: `Package rejected: the study requires differential privacy (ε ≤ ${policy.maxEpsilon}) and the package has none`,
        hint: `Enable DP noise with ε ≤ ${policy.maxEpsilon} and prepare the package again.`,
      };
    if (m.dp_epsilon > policy.maxEpsilon)
      return {
        status: 422,
        code: 'epsilon_exceeds_policy',
        message: `Package rejected: DP ε = ${m.dp_epsilon} is above the study's maximum ${policy.maxEpsilon}`,
        hint: `Prepare it again with ε ≤ ${policy.maxEpsilon} (more noise).`,
      };
    if (m.dp_delta !== null && m.dp_delta > policy.delta)
      return {
        status: 422,
        code: 'delta_exceeds_policy',
        message: `Package rejected: DP δ = ${m.dp_delta} is above the study's maximum ${policy.delta}`,
        hint: `Prepare it again with δ ≤ ${policy.delta}.`,
      };
  }
  return null;
}

/**
 * The study's ε budget, enforced per site across packages (the site enforces it too, per image
 * content; this is the server's own check of what it was sent): ε adds up under basic composition.
 */
export function checkEpsilonBudget(
  acceptedEpsilon: number,
  packageEpsilon: number | null,
  study: StudyManifest,
): PackageRejection | null {
  const budget = study.privacy.maxEpsilon;
  if (budget === null || packageEpsilon === null) return null;
  // The same relative tolerance as the site's budgetCheck: 0.1 + 0.2 fits a budget of 0.3.
  if (acceptedEpsilon + packageEpsilon <= budget * (1 + 1e-12)) return null;
  const left = Math.max(0, budget - acceptedEpsilon);
  const fmt = (x: number) => Number(x.toPrecision(4)).toString();
  return {
    status: 422,
    code: 'epsilon_budget_exhausted',
    message: `Package rejected: this site has already accepted ε ${fmt(acceptedEpsilon)} for this study; ε ${fmt(packageEpsilon)} more would exceed the study's budget ${fmt(budget)} (${fmt(left)} left)`,
    hint:
      left > 0
        ? `Prepare a package with ε ≤ ${fmt(left)} (more noise), or stop sharing for this study.`
        : 'The budget for this study is spent: no more DP packages can be accepted from this site.',
  };
}
