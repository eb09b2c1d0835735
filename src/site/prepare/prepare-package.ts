import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { writeFileDurable } from '../../core/fs/durable-file';
import { join, resolve } from 'node:path';
import { PACKAGE_FORMAT_VERSION, PACKAGE_TENSORS, type PackageMetadata } from '../../shared/package-format';
import { matchLabels, type ClassMap } from '../../shared/class-names';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { looserThan, studyManifestCanonicalJson, type Aggregation, type PrivacyPolicy, type PromptMode, type StudyManifest } from '../../shared/study';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { modelDigest } from '../../core/models/model-digest';
import { scanDataset } from '../dataset/scan-dataset';
import type { LabelAttribute } from '../../core/image/dicom/read-dicom';
import type { Ledger } from '../ledger/ledger';
import { buildCohorts, type CohortItem, type CohortResult } from '../privacy/k-cohort';
import { dpGuaranteeText, dpReleaseParameters } from '../privacy/dp-release';
import type { MachineSpend } from '../privacy/machine-spend';
import { binRows, publicBins } from './dp-bins';
import { checkReleasedVector, checkSinglingOut } from '../privacy/singling-out';
import { budgetCheck } from '../privacy/differential-privacy';
import { pca2d, project } from '../report/pca';
import { groupPrivacyUnits } from '../privacy/privacy-units';
import { findDifferencing } from '../privacy/differencing';
import { imageSignatureOfFile } from '../privacy/perceptual-hash';
import { buildPrompts } from '../prompts/build-prompts';
import { computeLocalFeatures } from './local-features';
import { loadDefaultPhiNames } from '../site-resources';
import { loadSiteModels, type SiteModelDirs } from './site-models';
import { l2Normalize } from '../../core/tfjs/l2-normalize';
import { memberMean, outgoingRows, unitVectors } from './outgoing-rows';
import { PLAN_FILE, writePlanFiles } from './release-plan';
import { stagePackageFile, type StagedPackage } from './package-writer';
import { reportMarkdown, type PrivacyReport, type ReportRow, type RowCheck } from './privacy-report';
import { checkedReport } from '../../shared/privacy-report';

export const APP_VERSION = '0.1.0';

export type PrepareOptions = {
  ledger: Ledger;
  dataDir: string;
  manifest?: string;
  /** Label DICOM files by this attribute instead of their folder (see ScanOptions). */
  labelAttribute?: LabelAttribute;
  /**
   * Caption images that may carry burned-in text (DICOM BurnedInAnnotation YES, ultrasound,
   * secondary capture) too. Default false: they get the class prompt.
   */
  captionBurnedIn?: boolean;
  study: StudyManifest;
  siteId: string;
  models: SiteModelDirs & { tiny: boolean };
  promptMode: PromptMode;
  aggregation: Aggregation;
  /** The operator's folder → class choices (null = leave out); others follow the class-name rule. */
  classMap?: ClassMap;
  /** Site-side k; must be ≥ the study's (a site may be stricter, never looser). */
  k?: number;
  /** Per-package ε with the analytic Gaussian mechanism; omitted = no DP noise (if the study allows). */
  dpEpsilon?: number | null;
  /** Per-image L2 clip of the flattened [77·D] conditioning; a public constant. Default √(77·D). */
  dpClip?: number;
  outDir: string;
  device: DeviceChoice;
  batchSize?: number;
  dtype?: 'F16' | 'F32';
  vocabularyTop?: number;
  /** Names list for the PHI scrub (resources/phi/names.txt). */
  phiNames?: ReadonlySet<string>;
  seed?: number;
  /**
   * The machine-wide ε record (privacy/machine-spend.ts) checked beside this ledger, so a second
   * FGL_HOME of this account finds what the first spent. The CLI and the app pass it; omitted =
   * this ledger only.
   */
  machine?: MachineSpend;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

export type PrepareResult = {
  runId: number;
  datasetId: number;
  /** Where the package is (without DP), or will be written when the plan is approved (with DP). */
  packagePath: string;
  reportJsonPath: string;
  reportMarkdownPath: string;
  /** The package's sha256 and size; null for a DP plan, whose noise is drawn only on approval. */
  sha256: string | null;
  bytes: number | null;
  /** The DP release plan awaiting approval (ledger.plans), or null for a package made without DP. */
  plan: { id: number; path: string } | null;
  report: PrivacyReport;
  /** The images behind `report.projection.local[i].imageId` (local only: for on-device thumbnails). */
  localImages: { path: string; label: string }[];
  dataRoot: string;
};

import { PrepareError } from './prepare-error';
export { PrepareError };

/** ENOSPC / quota / file-size limit from the OS, or SQLITE_FULL from the ledger. */
function isDiskFull(e: unknown): boolean {
  return ['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL'].includes((e as { code?: string }).code ?? '');
}

/** The policy this run enforces: the study's floor, tightened by the site's choices. */
export function effectivePolicy(study: StudyManifest, o: Pick<PrepareOptions, 'k' | 'aggregation' | 'promptMode' | 'dpEpsilon'>): PrivacyPolicy {
  const policy: PrivacyPolicy = { ...study.privacy, k: o.k ?? study.privacy.k };
  const looser = looserThan(policy, study.privacy);
  if (looser.length > 0) throw new PrepareError(`Site settings are looser than the study allows: ${looser.join('; ')}`, 'A site may tighten the study’s privacy floor, never loosen it.');
  if (!study.prompts.modes.includes(o.promptMode))
    throw new PrepareError(`The study does not accept "${o.promptMode}" prompts`, `Use one of: ${study.prompts.modes.join(', ')}`);
  if (o.aggregation === 'instance' && !policy.allowInstance)
    throw new PrepareError('The study does not allow one row per image (instance aggregation)', 'Use --aggregate cluster or class.');
  if (study.privacy.maxEpsilon !== null && (o.dpEpsilon === undefined || o.dpEpsilon === null))
    throw new PrepareError(`The study requires differential privacy (budget ε ≤ ${study.privacy.maxEpsilon} per dataset)`, 'Pass --dp-epsilon E, e.g. 1.');
  return policy;
}

/** What k-cohort gets for conditioning: nothing (see step 5); one shared empty vector. */
const NO_CONDITIONING = new Float32Array(0);

const mean = (vs: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  for (let i = 0; i < out.length; i++) out[i]! /= vs.length;
  return out;
};

/**
 * Folder → scan → CLIP features → prompts → conditioning → k-cohort rows → singling-out → DP →
 * package.safetensors + privacy report, recorded in the ledger. Reads the dataset, never writes
 * into it. Cancel with `signal`; a rerun reuses cached CLIP features and captions.
 */
export async function preparePackage(o: PrepareOptions): Promise<PrepareResult> {
  const policy = effectivePolicy(o.study, o);
  const root = resolve(o.dataDir);
  const dataset = o.ledger.datasets.upsert({ root, labelSource: o.manifest ? 'manifest' : 'folder', ...(o.manifest ? { manifestPath: o.manifest } : {}) });
  const run = o.ledger.runs.create({ datasetId: dataset.id, studyId: o.study.id, options: { promptMode: o.promptMode, aggregation: o.aggregation, k: policy.k, dpEpsilon: o.dpEpsilon ?? null, device: o.device } });
  const progress: ProgressListener = (p) => {
    o.onProgress?.(p);
  };
  let stage = 'load-models';
  let staged: StagedPackage | undefined;
  const models = await loadSiteModels(o.models, o.study, o.device).catch((e: unknown) => {
    o.ledger.runs.update(run.id, { status: 'failed', error: (e as Error).message });
    throw e;
  });
  try {
    const batch = o.batchSize ?? 16;
    // 1. Scan (streamed, read-only).
    stage = 'scan';
    const scan = await scanDataset(root, {
      ...(o.manifest ? { manifest: o.manifest } : {}),
      ...(o.labelAttribute ? { labelAttribute: o.labelAttribute } : {}),
      k: policy.k,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => progress({ stage: 'scan', done: p.done, total: p.total, ratePerSec: p.ratePerSec, etaSec: p.etaSec }),
    });
    const scanRow = o.ledger.scans.start(dataset.id);
    o.ledger.images.replaceForDataset(
      dataset.id,
      scanRow.id,
      // Skipped files have no content hash; they are kept in the scan summary instead.
      scan.usable.map((u) => ({ relPath: u.path, contentSha256: u.sha256, label: u.label, bytes: u.bytes, width: u.width, height: u.height, status: 'usable' as const, skipReason: null })),
    );
    o.ledger.scans.finish(scanRow.id, { images: scan.images, classes: scan.classes, skipped: scan.skipped.map((x) => ({ path: x.path, reason: x.reason })) });
    // One class-name rule with evaluate and the UI (shared/class-names.ts), then the operator's mapping.
    const unknownTarget = Object.entries(o.classMap ?? {}).find(([, c]) => c !== null && !o.study.classes.includes(c));
    if (unknownTarget)
      throw new PrepareError(`The folder "${unknownTarget[0]}" is mapped to "${unknownTarget[1]}", which is not a class of the study (${o.study.classes.join(', ')}).`, 'Map it to one of the study\'s classes, or leave it out.');
    const counts = new Map<string, number>();
    for (const u of scan.usable) counts.set(u.label, (counts.get(u.label) ?? 0) + 1);
    const match = matchLabels(counts, o.study.classes, o.classMap);
    const classIndex = new Map(o.study.classes.map((c, i) => [c, i]));
    // From here on an image's label is the study's class name: a folder's own spelling never leaves.
    const images = scan.usable.flatMap((u) => {
      const i = match.index.get(u.label);
      return i === undefined ? [] : [{ ...u, label: o.study.classes[i]! }];
    });
    const messages = [...models.messages];
    for (const r of match.renamed) messages.push(`Folder "${r.label}" is used as the class "${r.class}".`);
    if (match.excluded.length > 0) messages.push(`Ignored ${scan.usable.length - images.length} images in folders the study has no class for: ${match.excluded.map((e) => `${e.label} (${e.images})`).join(', ')}.`);
    if (images.length === 0) {
      const found = match.excluded.map((e) => `${e.label} (${e.images})`).join(', ');
      throw new PrepareError(
        `No usable images of the study's classes (${o.study.classes.join(', ')}) in ${root}. ${found ? `Found: ${found}.` : 'It has no usable images at all.'}`,
        found ? 'Rename the folders to the study\'s class names (case, spaces, "_" and "-" do not matter), or map each folder to a class in the Prepare screen (CLI: --class-map "Folder=class,...").' : 'Check the folder layout: one sub-folder per class, named as in the study.',
      );
    }

    // 1b. Privacy units: one per patient where the data names one, else one per distinct picture
    // (byte-identical and near-duplicate files count once).
    stage = 'privacy-units';
    const units = await groupPrivacyUnits(
      images,
      (i) =>
        imageSignatureOfFile(join(root, ...images[i]!.path.split('/')), o.signal).catch((e: unknown) => {
          if (o.signal?.aborted) throw e;
          return null; // changed since the scan: exact and patient matches still apply
        }),
      o.ledger.secrets.get('patient-key'),
      o.signal,
      o.machine?.patientKey(),
    );
    const unitCount = units.keys.length;
    if (unitCount < images.length)
      messages.push(
        `${images.length} images are ${unitCount} distinct ${units.kind === 'image' ? 'pictures' : 'patients/pictures'} (${units.merged.patient} same patient, ${units.merged.identical} identical copies, ${units.merged.nearDuplicate} near-duplicates): k and DP count each once.`,
      );

    // 2. Local CLIP features (+ captions), cached in the ledger.
    stage = 'embed-images';
    const captionerDigest = o.promptMode === 'instance' && o.models.captioner ? await modelDigest(o.models.captioner, 'captioner') : null;
    // Images that may show burned-in text (names, dates) are not captioned unless asked for.
    const noCaption = (img: { burnedInText?: true }) => img.burnedInText === true && !o.captionBurnedIn;
    const features = await computeLocalFeatures({
      root,
      images: images.map((img) => ({ ...img, ...(noCaption(img) ? { noCaption: true } : {}) })),
      ledger: o.ledger,
      clip: models.clip,
      clipDigest: models.clipDigest,
      ...(o.promptMode === 'instance' ? { captioner: { model: () => models.captioner(), digest: captionerDigest ?? 'none' } } : {}),
      batchSize: batch,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: progress,
    });

    // 3. Prompts: one per image (src/site/prompts/build-prompts.ts), with the PHI scrub's summary.
    stage = 'prompts';
    if (o.promptMode === 'vocabulary' && o.study.prompts.vocabulary.length === 0)
      throw new PrepareError('The study has no controlled vocabulary for vocabulary prompts', 'Use --prompts class, or ask the coordinator to add a vocabulary.');
    const burnedIn = images.filter(noCaption).length;
    if (o.promptMode === 'instance' && burnedIn > 0)
      messages.push(`${burnedIn} image(s) may carry burned-in text (DICOM BurnedInAnnotation, ultrasound or secondary capture): not captioned, they use the class prompt.`);
    const { prompts, phi, phiPerImage, topPhrase } = buildPrompts({
      study: o.study,
      promptMode: o.promptMode,
      labels: images.map((img) => img.label),
      ...(o.promptMode === 'vocabulary' ? { vocabulary: { imageClip: features.clip, phraseClip: await models.clip.embedTexts(o.study.prompts.vocabulary), top: o.vocabularyTop ?? 3 } } : {}),
      ...(o.promptMode === 'instance' ? { captions: { texts: features.captions!, names: o.phiNames ?? (await loadDefaultPhiNames()), action: policy.phiAction, skip: images.map(noCaption) } } : {}),
    });

    // 4. Conditioning embeddings of the distinct prompts.
    stage = 'encode';
    const distinct = [...new Set(prompts)];
    const D = models.encoder.dim;
    const rowLen = 77 * D;
    const cond = new Map<string, Float32Array>();
    const textClip = new Map<string, Float32Array>();
    const encMeter = createProgressMeter('encode-prompts', distinct.length, progress);
    for (let s = 0; s < distinct.length; s += batch) {
      o.signal?.throwIfAborted();
      const chunk = distinct.slice(s, s + batch);
      const out = await models.encoder.encode(chunk);
      const clipT = await models.clip.embedTexts(chunk);
      chunk.forEach((p, j) => {
        cond.set(p, out.slice(j * rowLen, (j + 1) * rowLen));
        textClip.set(p, clipT[j]!);
      });
      encMeter.advance(chunk.length);
    }

    // 5. k-cohort aggregation. Rows are formed from CLIP features alone; their conditioning means
    // are computed one at a time when the package is written (step 8), so k-cohort gets none:
    // holding every row's [77·D] mean at once is what made memory grow with the number of rows.
    stage = 'privacy';
    const condOf = (i: number) => cond.get(prompts[i]!)!;
    const items: CohortItem[] = images.map((img, i) => ({ label: classIndex.get(img.label)!, clip: features.clip[i]!, cond: NO_CONDITIONING, unit: units.unitOf[i]! }));
    // With DP the rows are the study's public bins, so which rows exist depends on the data only
    // through the mechanism's noisy counts (privacy/dp-release.ts); without, k-cohort rows.
    const withDp = o.dpEpsilon !== undefined && o.dpEpsilon !== null;
    if (withDp && o.aggregation === 'instance')
      throw new PrepareError('Instance rows cannot be released with differential privacy: one row per image would show which images exist.', 'Use --aggregate class: with DP, rows are the study’s public bins (class, or class × vocabulary phrase).');
    let cohorts: CohortResult;
    if (withDp) {
      const bins = publicBins(o.study, o.promptMode);
      const binIndex = new Map(bins.map((b, j) => [`${b.label}\0${b.phrase ?? ''}`, j]));
      const rows = binRows(images.length, bins, (i) => binIndex.get(`${items[i]!.label}\0${o.promptMode === 'vocabulary' ? topPhrase[i]! : ''}`)!, (i) => units.unitOf[i]!);
      const clipDim = features.clip[0]!.length;
      for (const r of rows) r.centroid = r.members.length > 0 ? mean(r.members.map((m) => features.clip[m]!)) : new Float32Array(clipDim);
      cohorts = { mode: 'class', k: policy.k, rows, suppressed: [] };
      if (o.aggregation === 'cluster') messages.push('With differential privacy the rows are the study’s public bins (class, or class × vocabulary phrase), not clusters: clusters of private embeddings would fall outside the guarantee.');
    } else cohorts = buildCohorts(items, { mode: o.aggregation, policy, seed: o.seed ?? 0 });
    const rowText = (i: number) => (rowPrompts[i]!.length > 0 ? l2Normalize(mean(rowPrompts[i]!.map((p) => textClip.get(p)!))) : null);

    // 6. Singling-out on what is sent: each aggregated row's released mean against its own units'
    // vectors (duplicates collapsed). Instance rows (one image each): the row's text against every
    // local image. With DP, rows are dropped only by the mechanism, so the test is not applied.
    const rowPrompts = cohorts.rows.map((r) => [...new Set(r.members.map((m) => prompts[m]!))]);
    // Class-template instance rows carry no image-derived text, so they cannot point at an image.
    const imageDerived = o.promptMode !== 'class';
    const notApplied = { ratio: NaN, nearest: NaN, kth: NaN, nearestIndex: -1, blocked: false, reason: null };
    const singling =
      o.aggregation === 'instance'
        ? checkSinglingOut(cohorts.rows.map((r, i) => ({ text: rowText(i), centroid: r.centroid })), features.clip, policy)
        : cohorts.rows.map((r) => {
            if (withDp || r.units.length === 0) return notApplied;
            const uv = unitVectors(r.units.map((u) => u.map(condOf)));
            return checkReleasedVector(memberMean(uv), uv, policy);
          });

    // 7. Which rows leave. With DP: the bins whose noisy count reaches the public threshold (ε is
    // checked against what every unit read has spent, by content, before any noise is drawn).
    // Without: the k-cohort rows the singling-out test does not block.
    // With DP this is a plan: no noise is drawn and no ε charged here (a preview costs nothing);
    // release-plan.ts draws the noise once, on approval, and charges ε then.
    let dp: PrivacyReport['dp'] = null;
    const dpPlan = withDp ? dpReleaseParameters({ epsilon: o.dpEpsilon!, delta: policy.delta, clip: o.dpClip ?? Math.sqrt(rowLen), k: policy.k }) : null;
    if (dpPlan) {
      const spent = Math.max(o.ledger.dp.spentByUnits(units.keys), o.ledger.dp.spent(dataset.id), o.machine?.spentByUnits(units.machineKeys) ?? 0);
      const check = budgetCheck(spent, dpPlan.epsilon, policy.maxEpsilon);
      if (!check.ok) throw new PrepareError(check.message, 'ε is charged to the images themselves (by content): another folder, a copy, a link or another FGL_HOME of this account finds the same spend.');
      dp = { epsilon: dpPlan.epsilon, delta: dpPlan.delta, clip: dpPlan.clip, sigmaMax: dpPlan.sigma, sigmaCount: dpPlan.sigmaCount, threshold: dpPlan.threshold, adjacency: dpPlan.adjacency, unit: units.kind, ...dpGuaranteeText(dpPlan, units.kind), spentBefore: spent, totalAfter: check.total, budget: policy.maxEpsilon };
    }
    // With DP every public bin is in the plan; which are sent is decided by the noisy count on approval.
    const blocked = (i: number) => (dpPlan ? false : singling[i]!.blocked && (o.aggregation !== 'instance' || imageDerived));
    const sendIdx = cohorts.rows.map((_, i) => i).filter((i) => !blocked(i));
    if (sendIdx.length === 0)
      throw new PrepareError('Every row was blocked by the privacy checks; nothing would leave.', 'Use a coarser aggregation (class), a larger dataset, or class prompts.');
    // Members' vectors by reference (images with one prompt share one vector), grouped by unit:
    // each unit adds one bounded vector to its row.
    const groups = sendIdx.map((i) => cohorts.rows[i]!.units.map((u) => u.map(condOf)));
    // No differencing: a non-DP row a few units away from an earlier release's row gives those units away.
    const released = sendIdx.map((i) => ({ label: cohorts.rows[i]!.label, units: cohorts.rows[i]!.units.map((u) => units.keys[units.unitOf[u[0]!]!]!) }));
    if (!withDp && o.aggregation !== 'instance') {
      const conflicts = findDifferencing(released, o.ledger.releasedRows.forStudy(o.study.id), policy.k);
      if (conflicts.length > 0) {
        const c = conflicts[0]!;
        throw new PrepareError(
          `Refused: class "${o.study.classes[c.label]}" would differ from an earlier package (${c.packageSha256.slice(0, 12)}…) by ${c.differ} patient(s)/picture(s), fewer than k = ${policy.k}${conflicts.length > 1 ? ` (and ${conflicts.length - 1} more such rows)` : ''}. Whoever holds both packages could subtract them and recover what those few images contribute.`,
          `Wait until at least ${policy.k} new images (or patients) differ from the earlier package, or prepare with differential privacy (--dp-epsilon), whose noise covers what one image changes.`,
        );
      }
    }
    // 8. The package, streamed row by row to a temporary file beside its final path (renamed in step 10).
    stage = 'package';
    const n = sendIdx.length;
    const metadata: PackageMetadata = {
      format: 'fgl-embedding-package',
      format_version: PACKAGE_FORMAT_VERSION,
      study_id: o.study.id,
      site_id: o.siteId,
      encoder_id: o.study.encoder.id,
      encoder_sha256: models.encoder.digest,
      prompt_mode: o.promptMode,
      aggregation: dpPlan ? 'class' : o.aggregation,
      // Instance rows are one image each: the study waived k for them, and the header says so.
      k: o.aggregation === 'instance' ? 1 : policy.k,
      privacy_unit: units.kind,
      dp_epsilon: dp?.epsilon ?? null,
      dp_delta: dp?.delta ?? null,
      dp_clip: dp?.clip ?? null,
      dp_sigma: dp?.sigmaMax ?? null,
      ...(dpPlan ? { dp_adjacency: dpPlan.adjacency, dp_threshold: dpPlan.threshold } : {}),
      study_sha256: createHash('sha256').update(studyManifestCanonicalJson(o.study)).digest('hex'),
      singling_out_ratio: policy.singlingOutRatio,
      phi_action: policy.phiAction,
      app_version: APP_VERSION,
      // Day only: the server need not learn when in the day a site prepared its data.
      created_at: `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`,
    };
    const dtype = o.dtype ?? 'F16';
    await mkdir(o.outDir, { recursive: true });
    const packagePath = join(o.outDir, 'package.safetensors');
    // Without DP nothing is random: the plan and the package are the same bytes, written now.
    if (!dpPlan)
      staged = await stagePackageFile(
        packagePath,
        {
          metadata,
          n,
          dim: D,
          dtype,
          labels: Int32Array.from(sendIdx.map((i) => cohorts.rows[i]!.label)),
          counts: Int32Array.from(sendIdx.map((i) => cohorts.rows[i]!.count)),
        },
        outgoingRows(groups),
        { mode: 0o600, ...(o.signal ? { signal: o.signal } : {}) },
      );
    const sha256 = staged?.sha256 ?? null;
    const bytes = staged?.bytes ?? null;

    // 9. Report (local), with a 2-D projection of outgoing rows among the local images.
    // One point per row (blocked rows included, so point i is row i in the preview), among the local images.
    const rowVectors = cohorts.rows.map((r, i) => rowText(i) ?? r.centroid);
    const fit = pca2d([...features.clip, ...rowVectors]);
    const localPts = project(features.clip, fit);
    const outPts = project(rowVectors, fit);
    const unitWord = units.kind === 'image' ? 'pictures' : 'patients/pictures';
    const rows: ReportRow[] = cohorts.rows.map((r, i) => {
      const s = singling[i]!;
      const checks: RowCheck[] = [
        dpPlan
          ? { name: 'k-cohort', passed: true, detail: `DP: sent only if its noisy count, drawn once on approval, reaches ${dpPlan.threshold.toFixed(1)} (exact: ${r.count} distinct ${unitWord}, local only)` }
          : o.aggregation === 'instance'
            ? { name: 'k-cohort', passed: true, detail: 'waived by the study (instance rows allowed): one image per row, k = 1' }
            : { name: 'k-cohort', passed: r.count >= policy.k, detail: `${r.count} distinct ${unitWord} in ${r.members.length} files (k = ${policy.k})` },
        dpPlan
          ? { name: 'singling-out', passed: true, detail: 'covered by differential privacy (rows are dropped only by the noisy count)' }
          : o.aggregation === 'instance' && !imageDerived
            ? { name: 'singling-out', passed: true, detail: 'not applicable: the study’s class template, no image-derived text' }
            : { name: 'singling-out', passed: !s.blocked, detail: s.blocked ? (s.reason ?? 'points at one image') : `vector sent: ratio ${s.ratio.toFixed(3)} ≤ ${policy.singlingOutRatio}` },
      ];
      if (o.promptMode === 'instance') {
        const found = r.members.reduce((a, m) => a + (phiPerImage[m]?.reduce((x, f) => x + f.count, 0) ?? 0), 0);
        checks.push({ name: 'phi-scrub', passed: true, detail: found > 0 ? `${found} PHI matches ${policy.phiAction === 'drop' ? 'dropped' : 'redacted'}` : 'no PHI found' });
      }
      if (dp) checks.push({ name: 'differential-privacy', passed: true, detail: `ε ${dp.epsilon.toFixed(3)}, δ ${dp.delta}` });
      return { index: i, label: o.study.classes[r.label]!, prompt: rowPrompts[i]!.length === 1 ? rowPrompts[i]![0]! : null, prompts: rowPrompts[i]!.slice(0, 20), images: r.members.length, units: r.count, blocked: blocked(i), checks };
    });
    const skippedByReason = new Map<string, number>();
    for (const s of scan.skipped) skippedByReason.set(s.reason, (skippedByReason.get(s.reason) ?? 0) + 1);
    const report: PrivacyReport = checkedReport({
      format: 'fgl-privacy-report',
      version: 1,
      createdAt: new Date().toISOString(),
      appVersion: APP_VERSION,
      study: { id: o.study.id, name: o.study.name },
      siteId: o.siteId,
      tinyModels: o.models.tiny,
      models: {
        clip: { id: o.study.clip.id, digest: models.clipDigest },
        encoder: { id: o.study.encoder.id, digest: models.encoder.digest, dim: D },
        captioner: o.study.captioner && captionerDigest ? { id: o.study.captioner.id, digest: captionerDigest } : null,
      },
      devices: models.devices,
      dataset: { root, images: images.length, units: { kind: units.kind, count: unitCount, merged: units.merged }, classes: scan.classes, skipped: [...skippedByReason].map(([reason, count]) => ({ reason, count })) },
      settings: { promptMode: o.promptMode, aggregation: o.aggregation, k: metadata.k, singlingOutRatio: policy.singlingOutRatio, dpEpsilon: o.dpEpsilon ?? null },
      outgoing: { rows: n, bytes, shape: [n, 77, D], dtype, sha256, tensors: Object.values(PACKAGE_TENSORS) },
      ...(dpPlan ? { release: { state: 'plan' as const } } : {}),
      rows,
      suppressed: cohorts.suppressed.map((s) => ({ label: o.study.classes[s.label]!, images: s.count, reason: s.reason })),
      phi,
      dp,
      projection: {
        outgoing: outPts,
        local: localPts.map(([x, y], i) => ({ x, y, label: images[i]!.label, imageId: i })),
        explainedVariance: fit.explainedVariance,
      },
      messages,
    });

    // 10. Files (durable), then the ledger rows in one transaction.
    const reportJsonPath = join(o.outDir, 'privacy-report.json');
    const reportMarkdownPath = join(o.outDir, 'privacy-report.md');
    if (dpPlan) {
      // The plan (local only): every bin's units as indices into the distinct prompts' vectors.
      const planSha256 = await writePlanFiles(o.outDir, {
        metadata,
        dp: dpPlan,
        dim: D,
        dtype,
        prompts: distinct,
        vectorOf: (p) => cond.get(p)!,
        rows: cohorts.rows.map((r, i) => ({ label: r.label, count: r.count, units: r.units.map((u) => u.map((m) => prompts[m]!)), unitKeys: released[i]!.units })),
        unitKeys: units.keys,
        machineKeys: units.machineKeys,
        signal: o.signal,
      });
      await writeFileDurable(reportJsonPath, JSON.stringify(report, null, 2), 0o600);
      await writeFileDurable(reportMarkdownPath, reportMarkdown(report), 0o600);
      const plan = o.ledger.transaction(() => {
        const row = o.ledger.plans.insert({ runId: run.id, datasetId: dataset.id, studyId: o.study.id, dir: resolve(o.outDir), planSha256, epsilon: dpPlan.epsilon, delta: dpPlan.delta, report: report as unknown as Record<string, unknown> });
        o.ledger.runs.update(run.id, { status: 'done', progress: { stage: 'done' } });
        return row;
      });
      return { runId: run.id, datasetId: dataset.id, packagePath, reportJsonPath, reportMarkdownPath, sha256: null, bytes: null, plan: { id: plan.id, path: join(o.outDir, PLAN_FILE) }, report, localImages: images.map((i) => ({ path: i.path, label: i.label })), dataRoot: root };
    }
    await staged!.commit();
    await writeFileDurable(reportJsonPath, JSON.stringify(report, null, 2), 0o600);
    await writeFileDurable(reportMarkdownPath, reportMarkdown(report), 0o600);
    const pkgSha = sha256!;
    o.ledger.transaction(() => {
      // The created_at is a day, so an unchanged non-DP release is byte-identical to one made earlier that
      // day: the ledger already holds it (and its rows); the new file is the same package.
      const again = o.ledger.packages.get(pkgSha) !== undefined;
      if (!again)
        o.ledger.packages.insert({
          runId: run.id,
          sha256: pkgSha,
          bytes: bytes!,
          path: packagePath,
          rows: n,
          privacy: { k: metadata.k, aggregation: o.aggregation, promptMode: o.promptMode, dp },
          report: report as unknown as Record<string, unknown>,
        });
      if (!again) o.ledger.releasedRows.record(released.map((r) => ({ ...r, packageSha256: pkgSha, studyId: o.study.id, dp: false })));
      o.ledger.runs.update(run.id, { status: 'done', progress: { stage: 'done' } });
    });
    return { runId: run.id, datasetId: dataset.id, packagePath, reportJsonPath, reportMarkdownPath, sha256, bytes, plan: null, report, localImages: images.map((i) => ({ path: i.path, label: i.label })), dataRoot: root };
  } catch (e) {
    await staged?.discard().catch(() => undefined);
    const cancelled = o.signal?.aborted ?? false;
    try {
      o.ledger.runs.update(run.id, { status: cancelled ? 'cancelled' : 'failed', error: `${stage}: ${(e as Error).message}` });
    } catch {
      // The ledger itself may be unwritable (disk full): the next start's failInterrupted() marks the run.
    }
    if (isDiskFull(e))
      throw new PrepareError(
        `Not enough disk space (${stage}): ${(e as Error).message}`,
        `Free space on the disk that holds the ledger (${o.ledger.file}) and the output folder (${o.outDir}), then prepare again; embeddings already computed are kept.`,
      );
    throw e;
  } finally {
    await models.dispose();
  }
}

