import { join, resolve } from 'node:path';
import type { ClassMap } from '../../shared/class-names';
import type { ProgressListener } from '../../shared/progress';
import { looserThan, type Aggregation, type PrivacyPolicy, type PromptMode, type StudyManifest } from '../../shared/study';
import type { PrivacyReport } from '../../shared/privacy-report';
import type { DeviceChoice } from '../../core/ort/execution-device';
import type { LabelAttribute } from '../../core/image/dicom/read-dicom';
import { modelDigest } from '../../core/models/model-digest';
import type { Ledger } from '../ledger/ledger';
import type { MachineSpend } from '../privacy/machine-spend';
import { planRows } from '../privacy/plan-rows';
import { promptStage, skipsCaption } from '../prompts/prompt-stage';
import { buildReport } from './build-report';
import { computeLocalFeatures } from './local-features';
import type { StagedPackage } from './package-writer';
import { scanStage, unitsStage } from './scan-stage';
import { loadSiteModels, type SiteModelDirs } from './site-models';
import { packageMetadata, recordPackage, recordPlan, stagePackage } from './write-release';
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

/**
 * Folder → scan → privacy units → CLIP features → prompts → rows and their checks → package (or,
 * with DP, a plan: no noise, no ε until approved) + privacy report, recorded in the ledger. Reads
 * the dataset, never writes into it. Cancel with `signal`; a rerun reuses cached CLIP features.
 * Each stage is its own module: prepare/scan-stage, prompts/prompt-stage, privacy/plan-rows,
 * prepare/build-report, prepare/write-release (approval: prepare/release-plan).
 */
export async function preparePackage(o: PrepareOptions): Promise<PrepareResult> {
  const policy = effectivePolicy(o.study, o);
  const root = resolve(o.dataDir);
  const dataset = o.ledger.datasets.upsert({ root, labelSource: o.manifest ? 'manifest' : 'folder', ...(o.manifest ? { manifestPath: o.manifest } : {}) });
  const run = o.ledger.runs.create({ datasetId: dataset.id, studyId: o.study.id, options: { promptMode: o.promptMode, aggregation: o.aggregation, k: policy.k, dpEpsilon: o.dpEpsilon ?? null, device: o.device } });
  const progress: ProgressListener = (p) => o.onProgress?.(p);
  let stage = 'load-models';
  let staged: StagedPackage | undefined;
  const models = await loadSiteModels(o.models, o.study, o.device).catch((e: unknown) => {
    o.ledger.runs.update(run.id, { status: 'failed', error: (e as Error).message });
    throw e;
  });
  try {
    const batch = o.batchSize ?? 16;
    stage = 'scan';
    const { scan, images, messages: scanned } = await scanStage({ ledger: o.ledger, datasetId: dataset.id, root, manifest: o.manifest, labelAttribute: o.labelAttribute, study: o.study, classMap: o.classMap, k: policy.k, signal: o.signal, progress });
    stage = 'privacy-units';
    const { units, messages: merged } = await unitsStage({ root, images, patientKey: o.ledger.secrets.get('patient-key'), machinePatientKey: o.machine?.patientKey(), signal: o.signal });
    stage = 'embed-images';
    const captionerDigest = o.promptMode === 'instance' && o.models.captioner ? await modelDigest(o.models.captioner, 'captioner') : null;
    const features = await computeLocalFeatures({
      root,
      images: images.map((img) => ({ ...img, ...(skipsCaption(img, o.captionBurnedIn) ? { noCaption: true } : {}) })),
      ledger: o.ledger,
      clip: models.clip,
      clipDigest: models.clipDigest,
      ...(o.promptMode === 'instance' ? { captioner: { model: () => models.captioner(), digest: captionerDigest ?? 'none' } } : {}),
      batchSize: batch,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: progress,
    });
    stage = 'prompts';
    const prompted = await promptStage({ study: o.study, promptMode: o.promptMode, images, clip: features.clip, captions: features.captions, models, phiAction: policy.phiAction, phiNames: o.phiNames, captionBurnedIn: o.captionBurnedIn, vocabularyTop: o.vocabularyTop, batch, signal: o.signal, progress });
    stage = 'privacy';
    const D = models.encoder.dim;
    const classIndex = new Map(o.study.classes.map((c, i) => [c, i]));
    const plan = planRows({
      ...{ study: o.study, policy, promptMode: o.promptMode, aggregation: o.aggregation, units, rowLen: 77 * D, dpEpsilon: o.dpEpsilon, dpClip: o.dpClip, seed: o.seed },
      ...{ labels: images.map((img) => classIndex.get(img.label)!), clip: features.clip, prompts: prompted.prompts, topPhrase: prompted.topPhrase, cond: prompted.cond, textClip: prompted.textClip },
      spent: () => Math.max(o.ledger.dp.spentByUnits(units.keys), o.ledger.dp.spent(dataset.id), o.machine?.spentByUnits(units.machineKeys) ?? 0),
      earlier: () => o.ledger.releasedRows.forStudy(o.study.id),
    });
    stage = 'package';
    const dtype = o.dtype ?? 'F16';
    const metadata = packageMetadata({ study: o.study, siteId: o.siteId, encoderDigest: models.encoder.digest, promptMode: o.promptMode, aggregation: o.aggregation, policy, units, plan, appVersion: APP_VERSION });
    if (!plan.dpPlan) staged = await stagePackage({ outDir: o.outDir, metadata, plan, units, condOf: (i) => prompted.cond.get(prompted.prompts[i]!)!, dim: D, dtype, signal: o.signal });
    const n = plan.sendIdx.length;
    const report = buildReport({
      ...{ appVersion: APP_VERSION, study: o.study, siteId: o.siteId, tinyModels: o.models.tiny, models, captionerDigest, root, scan, images, clip: features.clip, units, prompted, plan, policy },
      settings: { promptMode: o.promptMode, aggregation: o.aggregation, k: metadata.k, singlingOutRatio: policy.singlingOutRatio, dpEpsilon: o.dpEpsilon ?? null },
      outgoing: { rows: n, bytes: staged?.bytes ?? null, shape: [n, 77, D], dtype, sha256: staged?.sha256 ?? null, tensors: [] },
      messages: [...models.messages, ...scanned, ...merged, ...prompted.messages, ...plan.messages],
    });
    const paths = { runId: run.id, datasetId: dataset.id, packagePath: join(o.outDir, 'package.safetensors'), reportJsonPath: join(o.outDir, 'privacy-report.json'), reportMarkdownPath: join(o.outDir, 'privacy-report.md'), report, localImages: images.map((i) => ({ path: i.path, label: i.label })), dataRoot: root };
    if (plan.dpPlan) {
      const planFile = await recordPlan({ ledger: o.ledger, runId: run.id, datasetId: dataset.id, studyId: o.study.id, outDir: o.outDir, metadata, plan, prompted, units, dim: D, dtype, report, signal: o.signal });
      return { ...paths, sha256: null, bytes: null, plan: planFile };
    }
    await recordPackage({ ledger: o.ledger, runId: run.id, studyId: o.study.id, outDir: o.outDir, staged: staged!, report, plan, privacy: { k: metadata.k, aggregation: o.aggregation, promptMode: o.promptMode, dp: null } });
    return { ...paths, sha256: staged!.sha256, bytes: staged!.bytes, plan: null };
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
