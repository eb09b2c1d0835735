import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command, CommandContext } from '../command';
import { DEVICE_OPTION, LABEL_ATTRIBUTE_OPTION, UsageError, deviceOption, intOption, labelAttributeOption, optionalString, requireString } from '../command';
import { progressPrinter } from '../progress-printer';
import { resolveModelsOption } from '../study/models-folder';
import { parseClassMapOption } from './site-prepare';
import { MANIFEST_FILE } from '../../shared/model-manifest';
import { publicKeyFingerprint } from '../../core/models/verify-model-folder';
import { compareEvaluations } from '../../site/evaluate/compare-evaluations';
import { aggregateMetricsForServer } from '../../site/evaluate/aggregate-metrics-for-server';
import { clientForStudy } from '../../site/client/enroll-site';
import { evaluateModel, evaluationNotes, type EvaluateModelResult, type ModelTrust } from '../../site/evaluate/evaluate-model';
import { Ledger } from '../../site/ledger/ledger';
import { siteHome, sitePaths } from '../../site/site-home';

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null) => (x === null ? '—' : x.toFixed(3));

/** Unverified peek at manifest.json, only to pick which pinned key to verify it with. */
async function peekManifest(dir: string): Promise<{ studyId: string; version: number; kind: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
  } catch {
    throw new UsageError(`${dir} is not a model folder: ${MANIFEST_FILE} is missing or not JSON`, 'Point --model at a downloaded model folder, or give a version number with --study.');
  }
  const m = raw as { studyId?: unknown; version?: unknown; kind?: unknown };
  if (typeof m.studyId !== 'string' || typeof m.version !== 'number')
    throw new UsageError(`${join(dir, MANIFEST_FILE)} names no study and version: not an FGL model manifest`);
  return { studyId: m.studyId, version: m.version, kind: typeof m.kind === 'string' ? m.kind : 'unknown' };
}

async function explicitTrust(ctx: CommandContext): Promise<ModelTrust | null> {
  const keyFile = optionalString(ctx, 'trust-key');
  const fingerprint = optionalString(ctx, 'trust-fingerprint');
  if (!keyFile && !fingerprint) return null;
  // Both, so a key file alone can never stand in for the pin made out of band.
  if (!keyFile || !fingerprint) throw new UsageError('--trust-key and --trust-fingerprint go together', 'Pass the server key file and the fingerprint the study coordinator gave you out of band.');
  const publicKeyPem = await readFile(keyFile, 'utf8').catch(() => {
    throw new UsageError(`cannot read --trust-key ${keyFile}`);
  });
  return { publicKeyPem, pinnedFingerprint: fingerprint };
}

function humanResult(r: EvaluateModelResult, compare: string | null): string {
  const { metrics: m, record } = r;
  const width = Math.max(5, ...m.perClass.map((c) => c.name.length));
  const lines = [
    `Model v${record.model.version} of study ${record.model.studyId} (${record.model.kind}) on ${record.dataset.name}: ${m.samples} images evaluated offline (${record.info.device})`,
    '',
    `  accuracy           ${pct(m.accuracy)}`,
    `  balanced accuracy  ${pct(m.balancedAccuracy)}`,
    `  macro F1           ${num(m.macroF1)}`,
    `  macro AUROC (OvR)  ${num(m.macroAuroc)}`,
    `  ECE                ${num(m.ece)}`,
    '',
    `  ${'class'.padEnd(width)}  support  precision  recall     F1  AUROC`,
    ...m.perClass.map(
      (c) =>
        `  ${c.name.padEnd(width)}  ${String(c.support).padStart(7)}  ${num(c.precision).padStart(9)}  ${num(c.recall).padStart(6)}  ${num(c.f1).padStart(5)}  ${num(c.auroc).padStart(5)}`,
    ),
    ...evaluationNotes(record).map((n) => `  note: ${n}`),
    '',
    `Evaluation ${r.evaluationId} recorded in the site ledger. Reports:`,
    `  ${r.reportPaths.markdown}`,
    `  ${r.reportPaths.html}`,
    `  ${r.reportPaths.csv}`,
    `  ${r.reportPaths.json}`,
  ];
  if (compare) lines.push('', compare);
  return lines.join('\n');
}

export const siteEvaluateCommand: Command = {
  path: ['site', 'evaluate'],
  summary: 'evaluate a downloaded global model on local labelled images, offline',
  description: `
Verifies the model folder (signature against the server key pinned at enrollment, every
file's sha256), then predicts on the labelled images in --data and computes accuracy,
balanced accuracy, per-class precision/recall/F1, the confusion matrix, macro one-vs-rest
AUROC and the expected calibration error. Nothing is uploaded: this runs without network.

--model DIR   a model folder (model.json, weights, manifest.json, manifest.sig); verified with
              the key pinned when this site enrolled in the manifest's study, or with
              --trust-key FILE.pem --trust-fingerprint HEX
--model N     version N of --study already downloaded into the site ledger

Probe models run on CLIP image features: the local CLIP (--models) must be byte-for-byte the
backbone the model was trained on. Dataset labels are matched to the model's classes by name;
images of classes the model does not know are reported and left out.

Writes evaluation.json, .csv, .md and .html to --out (default: a new folder under
$FGL_HOME/reports/evaluations) and records the evaluation in the site ledger.`,
  options: {
    data: { type: 'string', value: 'DIR', description: 'labelled images (one sub-folder per class) or the folder of --manifest' },
    manifest: { type: 'string', value: 'FILE', description: 'CSV/JSON dataset manifest with path,label instead of class folders' },
    'label-attribute': LABEL_ATTRIBUTE_OPTION,
    model: { type: 'string', value: 'N|DIR', description: 'a model version in the ledger (with --study) or a model folder' },
    study: { type: 'string', value: 'ID', description: 'study id, for --model N (optional when only one study has that version)' },
    models: { type: 'string', value: 'tiny|DIR', default: 'tiny', description: 'models folder with clip/ (probe models need the CLIP they were trained on)' },
    device: { ...DEVICE_OPTION, description: `${DEVICE_OPTION.description} (for CLIP)` },
    out: { type: 'string', value: 'DIR', description: 'folder for the reports' },
    compare: { type: 'string', value: 'EVAL_ID', description: 'also compare with this earlier evaluation (Markdown side by side)' },
    'trust-key': { type: 'string', value: 'FILE.pem', description: "the server's Ed25519 public key, when this site is not enrolled in the study" },
    'trust-fingerprint': { type: 'string', value: 'HEX', description: 'sha256 fingerprint of that key, obtained out of band' },
    'batch-size': { type: 'string', value: 'N', default: '32', description: 'images per model call' },
    'class-map': {
      type: 'string',
      value: 'MAP',
      description: 'folder → class where names differ, as for site prepare: "Folder=class,Other=" (empty = leave the folder out); other folders match class names ignoring case, spaces, _ and -',
    },
    'share-metrics': { type: 'boolean', description: 'opt in: send the aggregate metrics (never per-image results) to the study server' },
  },
  examples: [
    'fgl site evaluate --data ./test-images --model 3 --study chest-xray',
    'fgl site evaluate --data ./test-images --model ./downloads/chest-xray/v3 --compare 12',
    'fgl site evaluate --data ./test-images --model ./v3 --trust-key server.pem --trust-fingerprint 9f2c…',
  ],
  async run(ctx) {
    const device = deviceOption(ctx);
    const dataDir = requireString(ctx, 'data');
    const modelArg = requireString(ctx, 'model');
    const compareId = optionalString(ctx, 'compare');
    if (compareId !== undefined && !/^\d+$/.test(compareId)) throw new UsageError(`--compare takes an evaluation id (a number), got ${compareId}`);
    const studyOpt = optionalString(ctx, 'study');
    const paths = sitePaths(siteHome());
    const ledger = Ledger.open(paths.ledger);
    try {
      let modelDir: string;
      let ledgerVerified = false;
      if (/^\d+$/.test(modelArg) && !existsSync(modelArg)) {
        const version = Number(modelArg);
        const held = ledger.models.list().filter((m) => m.version === version && (!studyOpt || m.studyId === studyOpt));
        if (held.length === 0)
          throw new UsageError(
            `version ${version}${studyOpt ? ` of study ${studyOpt}` : ''} is not in the site ledger`,
            `Models held: ${ledger.models.list().map((m) => `${m.studyId} v${m.version}`).join(', ') || 'none'}. Download it first, or pass --model DIR.`,
          );
        if (held.length > 1) throw new UsageError(`version ${version} exists for several studies (${held.map((m) => m.studyId).join(', ')}): pass --study`);
        modelDir = held[0]!.dir;
        ledgerVerified = held[0]!.verified === 'verified';
      } else {
        modelDir = resolve(modelArg);
        if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) throw new UsageError(`--model ${modelArg} is neither a model folder nor a version number`);
      }
      const peek = await peekManifest(modelDir);
      if (studyOpt && peek.studyId !== studyOpt) throw new UsageError(`the model in ${modelDir} belongs to study ${peek.studyId}, not ${studyOpt}`);

      let trust = await explicitTrust(ctx);
      if (!trust) {
        const pins = ledger.enrollments.list().filter((e) => e.studyId === peek.studyId);
        const fingerprints = new Set(pins.map((e) => e.serverKeyFingerprint.toLowerCase()));
        if (fingerprints.size > 1)
          throw new UsageError(`this site is enrolled in study ${peek.studyId} on several servers with different keys`, 'Pass --trust-key and --trust-fingerprint for the server that published this model.');
        if (pins.length > 0) trust = { publicKeyPem: pins[0]!.serverPublicKey, pinnedFingerprint: pins[0]!.serverKeyFingerprint };
      }
      // Without a pinned key, only a model the ledger already verified (files rechecked) is evaluated.
      if (!trust && !ledgerVerified)
        throw new UsageError(
          `no server key is pinned for study ${peek.studyId}, so the model cannot be verified`,
          'Enroll this site in the study (fgl site enroll), or pass --trust-key FILE.pem --trust-fingerprint HEX from the study coordinator.',
        );
      if (trust && publicKeyFingerprint(trust.publicKeyPem) !== trust.pinnedFingerprint.toLowerCase())
        ctx.out.warn('the given server key does not match the pinned fingerprint: verification will refuse the model.');

      const clipDir = peek.kind === 'probe' ? join(await resolveModelsOption(optionalString(ctx, 'models') ?? 'tiny', paths.models, { site: true }), 'clip') : undefined;
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const outDir = optionalString(ctx, 'out') ?? join(paths.reports, 'evaluations', `${peek.studyId.replace(/[^\w.-]/g, '_')}-v${peek.version}-${stamp}`);
      const progress = progressPrinter(ctx.out);
      const result = await evaluateModel({
        ledger,
        modelDir,
        trust,
        dataDir,
        ...(optionalString(ctx, 'manifest') ? { manifest: optionalString(ctx, 'manifest')! } : {}),
        ...labelAttributeOption(ctx),
        ...(optionalString(ctx, 'class-map') ? { classMap: parseClassMapOption(optionalString(ctx, 'class-map')!) } : {}),
        ...(clipDir ? { clipDir } : {}),
        device,
        outDir,
        batchSize: intOption(ctx, 'batch-size', 32, 1),
        signal: ctx.signal,
        ...(progress ? { onProgress: progress } : {}),
        log: (line) => ctx.out.info(line),
      });
      let compare: string | null = null;
      let comparePath: string | null = null;
      if (compareId !== undefined) {
        compare = compareEvaluations(ledger, Number(compareId), result.evaluationId);
        comparePath = join(outDir, `compare-${compareId}-vs-${result.evaluationId}.md`);
        await writeFile(comparePath, compare);
      }
      if (result.record.info.tinyModels) ctx.out.warn('tiny test models were used: these numbers prove the plumbing, not accuracy.');
      // Nothing leaves without the operator's explicit flag, and then only aggregates.
      let shared: { receivedAt: string } | null = null;
      if (ctx.values['share-metrics']) {
        const { client } = clientForStudy(ledger, result.manifest.studyId);
        const { privacy } = await client.getStudy(result.manifest.studyId, ctx.signal);
        shared = await client.shareMetrics(result.manifest.studyId, result.manifest.version, aggregateMetricsForServer(result.metrics, privacy.k), ctx.signal);
        ctx.out.info(`Shared aggregate metrics with the server (${shared.receivedAt}); no per-image result was sent.`);
      }
      ctx.out.result(
        {
          evaluationId: result.evaluationId,
          modelId: result.modelId,
          datasetId: result.datasetId,
          studyId: result.manifest.studyId,
          version: result.manifest.version,
          kind: result.manifest.kind,
          tinyModels: Boolean(result.record.info.tinyModels),
          devices: result.record.devices,
          dataset: result.record.dataset,
          metrics: result.metrics,
          reportPaths: result.reportPaths,
          ...(compare ? { compare: { against: Number(compareId), markdown: compare, path: comparePath } } : {}),
          sharedWithServer: shared,
        },
        () => humanResult(result, compare),
      );
    } finally {
      ledger.close();
    }
  },
};
