import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { writeFileDurable } from '../../core/fs/durable-file';
import { basename, join, resolve } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { MANIFEST_FILE, type ModelManifest } from '../../shared/model-manifest';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { decodeImage } from '../../core/image/decode-image';
import { loadClip } from '../../core/inference/clip-model';
import { modelDigest } from '../../core/models/model-digest';
import { isTinyModel } from '../../core/models/model-folders';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { resizeSideFor } from '../../core/tfjs/image-input';
import { loadModelFromDir } from '../../core/tfjs/file-io';
import { l2Normalize } from '../../core/tfjs/l2-normalize';
import { predictProbabilities } from '../../core/tfjs/predict-probabilities';
import { loadTf, type Tf } from '../../core/tfjs/tfjs-backend';
import { logOnce } from '../../core/log-once';
import { ModelVerificationError, verifyModelFolder } from '../../core/models/verify-model-folder';
import { scanDataset } from '../dataset/scan-dataset';
import type { LabelAttribute } from '../../core/image/dicom/read-dicom';
import type { Ledger } from '../ledger/ledger';
import { computeLocalFeatures } from '../prepare/local-features';
import { computeMetrics, type Metrics } from './classification-metrics';
import { cnnModelInput } from './cnn-model-input';
import { EvaluationError } from './evaluation-error';
import type { EvaluationRecord } from './evaluation-record';
import { metricsCsv, metricsHtml, metricsMarkdown } from './evaluation-report';
import { matchLabels, unknownClassTarget, type ClassMap } from '../../shared/class-names';
import { recheckVerifiedModel } from './recheck-verified-model';

/** The server key pinned at enrollment (see verifyModelFolder). */
export type ModelTrust = { publicKeyPem: string; pinnedFingerprint: string; minVersion?: number };

export type EvaluateModelOptions = {
  ledger: Ledger;
  /** A downloaded model folder: model.json + shards + manifest.json + manifest.sig. */
  modelDir: string;
  /** null only for a model the ledger already records as verified (its files are rechecked). */
  trust: ModelTrust | null;
  /** Labelled images: one sub-folder per class, or the folder of `manifest`. */
  dataDir: string;
  /** CSV/JSON dataset manifest with path,label instead of class folders. */
  manifest?: string;
  /** Label DICOM files by this attribute instead of their folder. */
  labelAttribute?: LabelAttribute;
  /** The operator's folder → class choices (null = leave out), as in prepare; other labels follow the class-name rule. */
  classMap?: ClassMap;
  /** Resolved local CLIP folder; needed for `probe` models, which run on CLIP image features. */
  clipDir?: string;
  device: DeviceChoice;
  outDir: string;
  /** Mark reports as made with tiny test models (also detected from a tiny CLIP folder). */
  tinyModels?: boolean;
  /** Images decoded and predicted per step. Default 32. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
  /** One-line notices (device fallbacks, tfjs backend). */
  log?: (line: string) => void;
};

export type EvaluationReportPaths = { json: string; csv: string; markdown: string; html: string };

export type EvaluateModelResult = {
  evaluationId: number;
  modelId: number;
  datasetId: number;
  metrics: Metrics;
  reportPaths: EvaluationReportPaths;
  manifest: ModelManifest;
  record: EvaluationRecord;
  /** Probe models: CLIP features taken from the ledger's cache instead of computed; null for cnn. */
  featuresFromCache: number | null;
};

const REPORT_FILES = { json: 'evaluation.json', csv: 'evaluation.csv', markdown: 'evaluation.md', html: 'evaluation.html' } as const;
const PREDICT_CHUNK = 256;

function isTinyClip(clipDir: string): Promise<boolean> {
  return isTinyModel(clipDir, 'clip');
}

/** A ledger copy whose bytes no longer verify is marked so (a wrong key or a downgrade says nothing about the copy). */
function markFailed(ledger: Ledger, modelDir: string, e: unknown): void {
  if (!(e instanceof ModelVerificationError) || e.check === 'key_pin' || e.check === 'downgrade') return;
  const row = ledger.models.list().find((m) => resolve(m.dir) === resolve(modelDir));
  if (row) ledger.models.setVerified(row.id, 'failed', e.message);
}

/** The checks that need only the manifest and the local CLIP, so a refusal comes before any heavy work. */
async function checkModelFitsSite(manifest: ModelManifest, clipDir: string | undefined): Promise<void> {
  const expected = manifest.kind === 'probe' ? 'clip-image-embeds' : 'pixels';
  if (manifest.preprocessing.input !== expected)
    throw new EvaluationError(
      `Model v${manifest.version} is a ${manifest.kind} model but its manifest says its input is ${manifest.preprocessing.input}; this app cannot prepare inputs for it.`,
      'Tell the study coordinator: the published manifest is inconsistent.',
    );
  if (manifest.kind !== 'probe') return;
  if (!clipDir)
    throw new EvaluationError(
      `Model v${manifest.version} is a probe on CLIP image features, and no local CLIP folder was given.`,
      'Pass --models DIR (a models folder with clip/) or --models tiny.',
    );
  const want = manifest.backbone?.sha256;
  if (!want)
    throw new EvaluationError(
      `Model v${manifest.version} is a probe but its manifest names no backbone digest, so there is no way to check that the local CLIP is the one it was trained on.`,
      'Tell the study coordinator: probe models must be published with backbone.sha256.',
    );
  const local = await modelDigest(clipDir, 'clip');
  // Features from any other CLIP live in another space: the probe's numbers would be meaningless.
  if (local !== want)
    throw new EvaluationError(
      `The local CLIP (${clipDir}, sha256 ${local.slice(0, 12)}…) is not the backbone model v${manifest.version} was trained on (${manifest.backbone!.id}, sha256 ${want.slice(0, 12)}…). Refusing to evaluate: the probe only makes sense on that exact backbone.`,
      `Install ${manifest.backbone!.id} (revision ${manifest.backbone!.revision}) in the models folder and pass it with --models, or evaluate a model trained on your CLIP.`,
    );
}

function modelInputShape(model: LayersModel, classes: number): number[] {
  const out = model.outputs[0]!.shape;
  if (model.outputs.length !== 1 || out[out.length - 1] !== classes)
    throw new EvaluationError(
      `The model outputs [${out.join(', ')}] but its manifest lists ${classes} classes.`,
      'Tell the study coordinator: the published model and manifest do not match.',
    );
  const shape = model.inputs[0]!.shape.slice(1);
  if (shape.some((d) => d === null)) throw new EvaluationError(`The model's input shape [${shape.join(', ')}] is not fixed; it cannot be evaluated here.`);
  return shape as number[];
}

/**
 * Evaluates a downloaded global model on the site's own labelled images, offline: verify the
 * model folder (signature against the pinned key, every file's hash), check it fits this site
 * (probe: the local CLIP is the exact backbone), scan the dataset, prepare inputs (cached CLIP
 * features or preprocessed pixels), predict, compute metrics, write JSON/CSV/Markdown/HTML
 * reports into `outDir` and record the evaluation in the ledger. Nothing here touches the network.
 */
export async function evaluateModel(o: EvaluateModelOptions): Promise<EvaluateModelResult> {
  o.signal?.throwIfAborted();
  // 1. Nothing from the folder is loaded before it is verified.
  const manifest = await (o.trust ? verifyModelFolder(o.modelDir, o.trust) : recheckVerifiedModel(o.ledger, o.modelDir).then((r) => r.manifest)).catch(
    (e: unknown) => {
      markFailed(o.ledger, o.modelDir, e);
      throw e;
    },
  );
  const manifestSha256 = createHash('sha256')
    .update(await readFile(join(o.modelDir, MANIFEST_FILE)))
    .digest('hex');
  const held = o.ledger.models.byVersion(manifest.studyId, manifest.version);
  if (held && held.manifestSha256 !== manifestSha256)
    throw new EvaluationError(
      `The ledger already holds version ${manifest.version} of study ${manifest.studyId} with a different manifest (sha256 ${held.manifestSha256.slice(0, 12)}…, in ${held.dir}); this folder's is ${manifestSha256.slice(0, 12)}….`,
      'A published version never changes: tell the study coordinator, and evaluate the copy the ledger holds (--model N).',
    );
  await checkModelFitsSite(manifest, o.clipDir);
  const tinyModels = Boolean(o.tinyModels) || (manifest.kind === 'probe' && (await isTinyClip(o.clipDir!)));

  // 2. The dataset (read-only), labels matched to the model's classes by name.
  const root = resolve(o.dataDir);
  const scan = await scanDataset(root, {
    ...(o.manifest ? { manifest: o.manifest } : {}),
    ...(o.labelAttribute ? { labelAttribute: o.labelAttribute } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (p) => o.onProgress?.({ stage: 'scan', done: p.done, total: p.total, ratePerSec: p.ratePerSec, etaSec: p.etaSec }),
  });
  // One class-name rule with prepare and the UI (shared/class-names.ts), then the operator's mapping.
  const unknown = unknownClassTarget(o.classMap ?? {}, manifest.classes);
  if (unknown)
    throw new EvaluationError(
      `The folder "${unknown[0]}" is mapped to "${unknown[1]}", which is not a class of the model (${manifest.classes.join(', ')}).`,
      "Map it to one of the model's classes, or leave it out.",
    );
  const match = matchLabels(new Map(scan.classes.map((c) => [c.name, c.count])), manifest.classes, o.classMap);
  const images = scan.usable.filter((u) => match.index.has(u.label));
  if (images.length === 0)
    throw new EvaluationError(
      `None of the ${scan.images} usable images in ${root} has a label the model knows (model classes: ${manifest.classes.join(', ')}; dataset labels: ${scan.classes.map((c) => c.name).join(', ') || 'none'}).`,
      'Name the class folders (or manifest labels) after the study classes.',
    );
  const labels = images.map((u) => match.index.get(u.label)!);

  // 3. Inputs and predictions.
  const batchSize = o.batchSize ?? 32;
  const note = logOnce(o.log);
  const loaded = await loadTf(note);
  const tf: Tf = loaded.tf;
  const model = await loadModelFromDir(o.modelDir, tf);
  const devices: Record<string, string> = { tfjs: loaded.backend };
  const probs: Float32Array[] = [];
  let featuresFromCache: number | null = null;
  try {
    const shape = modelInputShape(model, manifest.classes.length);
    const predict = createProgressMeter('predict', images.length, o.onProgress);
    if (manifest.kind === 'probe') {
      const clip = await loadClip(o.clipDir!, { device: o.device, batchSize });
      devices.clip = clip.device;
      if (clip.fallbackMessage) note(clip.fallbackMessage);
      let features: Float32Array[];
      try {
        const clipDigest = manifest.backbone!.sha256!;
        const computed = await computeLocalFeatures({
          root: scan.root,
          images,
          ledger: o.ledger,
          clip,
          clipDigest,
          batchSize,
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        });
        features = computed.clip;
        featuresFromCache = computed.cached.clip;
      } finally {
        await clip.dispose();
      }
      const inputs = manifest.preprocessing.normalize ? features.map(l2Normalize) : features;
      for (let start = 0; start < inputs.length; start += PREDICT_CHUNK) {
        o.signal?.throwIfAborted();
        const chunk = inputs.slice(start, start + PREDICT_CHUNK);
        probs.push(...predictProbabilities(tf, model, chunk, PREDICT_CHUNK));
        predict.advance(chunk.length);
      }
    } else {
      if (shape.length !== 3 || shape[0] !== shape[1] || shape[2] !== 3)
        throw new EvaluationError(`The cnn model's input is [${shape.join(', ')}]; expected a square RGB image [S, S, 3].`);
      const size = manifest.preprocessing.size ?? shape[0]!;
      if (size !== shape[0])
        throw new EvaluationError(`The manifest says input size ${size} but the model takes ${shape[0]}×${shape[1]}.`, 'Tell the study coordinator: the published model and manifest do not match.');
      for (let start = 0; start < images.length; start += batchSize) {
        o.signal?.throwIfAborted();
        const batch = images.slice(start, start + batchSize);
        const inputs: Float32Array[] = [];
        for (const img of batch) {
          // sharp's antialiased downscale to the resize side, then the exact centre crop.
          const d = await decodeImage(join(scan.root, ...img.path.split('/')), { resizeShortSide: resizeSideFor(size), ...(o.signal ? { signal: o.signal } : {}) });
          inputs.push(cnnModelInput(tf, d, manifest.preprocessing, size));
        }
        probs.push(...predictProbabilities(tf, model, inputs, batchSize));
        predict.advance(batch.length);
      }
    }
  } finally {
    model.dispose();
  }

  // 4. Metrics, reports, ledger.
  const metrics = computeMetrics(probs, labels, manifest.classes);
  const createdAt = new Date().toISOString();
  const record: EvaluationRecord = {
    schemaVersion: 1,
    info: {
      studyId: manifest.studyId,
      modelVersion: manifest.version,
      dataset: basename(root),
      device: Object.entries(devices)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
      createdAt,
      ...(tinyModels ? { tinyModels: true } : {}),
    },
    model: {
      studyId: manifest.studyId,
      version: manifest.version,
      roundId: manifest.roundId,
      kind: manifest.kind,
      manifestSha256,
      backbone: manifest.backbone,
      classes: manifest.classes,
    },
    dataset: {
      name: basename(root),
      root,
      scanned: scan.images,
      evaluated: images.length,
      skippedFiles: scan.skipped.length,
      excluded: match.excluded,
      classesWithoutImages: match.classesWithoutImages,
      renamed: match.renamed,
    },
    devices,
    metrics,
  };
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const reportPaths: EvaluationReportPaths = {
    json: join(outDir, REPORT_FILES.json),
    csv: join(outDir, REPORT_FILES.csv),
    markdown: join(outDir, REPORT_FILES.markdown),
    html: join(outDir, REPORT_FILES.html),
  };
  const notes = evaluationNotes(record);
  await writeFileDurable(reportPaths.json, JSON.stringify(record, null, 2) + '\n', 0o600);
  await writeFileDurable(reportPaths.csv, metricsCsv(metrics), 0o600);
  await writeFileDurable(reportPaths.markdown, metricsMarkdown(metrics, record.info) + (notes.length ? `\n## Notes\n\n${notes.map((n) => `- ${n}`).join('\n')}\n` : ''), 0o600);
  await writeFileDurable(reportPaths.html, metricsHtml(metrics, record.info), 0o600);

  const { modelId, datasetId, evaluationId } = o.ledger.transaction(() => {
    const existing = o.ledger.models.byVersion(manifest.studyId, manifest.version);
    const modelRow = existing
      ? existing.verified === 'verified'
        ? existing
        : o.ledger.models.setVerified(existing.id, 'verified')
      : o.ledger.models.insert({ studyId: manifest.studyId, version: manifest.version, dir: resolve(o.modelDir), manifestSha256, verified: 'verified' });
    const dataset = o.ledger.datasets.upsert({ root, labelSource: o.manifest ? 'manifest' : 'folder', ...(o.manifest ? { manifestPath: o.manifest } : {}) });
    const ev = o.ledger.evaluations.insert({ modelId: modelRow.id, datasetId: dataset.id, metrics: record, reportPath: reportPaths.json });
    return { modelId: modelRow.id, datasetId: dataset.id, evaluationId: ev.id };
  });
  return { evaluationId, modelId, datasetId, metrics, reportPaths, manifest, record, featuresFromCache };
}

/** Lines a reader must see beside the numbers: what was left out and why. */
export function evaluationNotes(r: EvaluationRecord): string[] {
  const notes: string[] = [];
  for (const e of r.dataset.excluded)
    notes.push(`${e.images} image(s) labelled "${e.label}" were left out: the model has no class of that name.`);
  for (const x of r.dataset.renamed) notes.push(`Dataset label "${x.label}" was matched to the model class "${x.class}".`);
  if (r.dataset.classesWithoutImages.length > 0)
    notes.push(`No images for model class(es) ${r.dataset.classesWithoutImages.map((c) => `"${c}"`).join(', ')}: their recall is undefined and they are left out of balanced accuracy and macro F1.`);
  if (r.dataset.skippedFiles > 0) notes.push(`${r.dataset.skippedFiles} file(s) in the dataset folder could not be used (see \`fgl site scan\`).`);
  return notes;
}
