import { appendFile, cp, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClip, type ClipModel } from '../../../src/core/inference/clip-model';
import { modelDigest } from '../../../src/core/models/model-digest';
import { decodeImage } from '../../../src/core/image/decode-image';
import { imageToModelInput, resizeSideFor } from '../../../src/core/tfjs/image-input';
import { l2Normalize } from '../../../src/core/tfjs/l2-normalize';
import { loadTf, type Tf } from '../../../src/core/tfjs/tfjs-backend';
import { makeSampleData } from '../../../src/cli/sample-data/make-sample-data';
import { ModelVerificationError } from '../../../src/core/models/verify-model-folder';
import { computeMetrics } from '../../../src/site/evaluate/classification-metrics';
import { compareEvaluations } from '../../../src/site/evaluate/compare-evaluations';
import { evaluateModel, type EvaluateModelOptions } from '../../../src/site/evaluate/evaluate-model';
import { EvaluationError } from '../../../src/site/evaluate/evaluation-error';
import { EvaluationRecord } from '../../../src/site/evaluate/evaluation-record';
import { Ledger } from '../../../src/site/ledger/ledger';
import { getTinyModels } from '../../helpers/tiny-models';
import { embedFiles, listImages, makeServerKey, trainTinyProbe, writeSignedModel } from './evaluate-fixture';

const CLASSES = ['red circle', 'blue square'];
const tmp = await mkdtemp(join(tmpdir(), 'fgl-evaluate-'));
const server = makeServerKey();
let tf: Tf;
let clip: ClipModel;
let clipDir: string;
let clipSha: string;
let evalDir: string;
let probe1: LayersModel;
let probe1Dir: string;
let probe2Dir: string;
const probeFields = (version: number, sha: string) => ({
  studyId: 'shapes',
  version,
  classes: CLASSES,
  kind: 'probe' as const,
  preprocessing: { input: 'clip-image-embeds' as const, normalize: true },
  backbone: { id: 'fgl-tiny/clip', revision: 'main', sha256: sha },
});

beforeAll(async () => {
  tf = (await loadTf()).tf;
  clipDir = (await getTinyModels()).dirs.clip;
  clipSha = await modelDigest(clipDir, 'clip');
  clip = await loadClip(clipDir, { device: 'cpu', batchSize: 16 });
  // Train on one draw of the two classes; evaluate on another draw that also has a class the model lacks.
  const train = await makeSampleData(join(tmp, 'train'), { classes: 2, perClass: 16, seed: 1, size: 64 });
  const trainFiles = await listImages(train.dir);
  const trainFeatures = await embedFiles(
    clip,
    trainFiles.map((f) => f.path),
  );
  const trainLabels = trainFiles.map((f) => CLASSES.indexOf(f.label));
  probe1 = await trainTinyProbe(trainFeatures, trainLabels, CLASSES, 0, 40);
  probe1Dir = join(tmp, 'model-v1');
  await writeSignedModel(probe1Dir, probe1, server.privateKey, probeFields(1, clipSha));
  const probe2 = await trainTinyProbe(trainFeatures, trainLabels, CLASSES, 7, 2);
  probe2Dir = join(tmp, 'model-v2');
  await writeSignedModel(probe2Dir, probe2, server.privateKey, probeFields(2, clipSha));
  probe2.dispose();
  evalDir = (await makeSampleData(join(tmp, 'site-data'), { classes: 3, perClass: 8, seed: 2, size: 64 })).dir;
  // A site's folder names rarely match the study's spelling exactly.
  await rename(join(evalDir, 'blue square'), join(evalDir, 'Blue_Square'));
});

afterAll(async () => {
  await clip?.dispose();
  probe1?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

function options(ledger: Ledger, over: Partial<EvaluateModelOptions>): EvaluateModelOptions {
  return { ledger, modelDir: probe1Dir, trust: server.trust, dataDir: evalDir, clipDir, device: 'cpu', outDir: join(tmp, `out-${Math.random().toString(36).slice(2)}`), ...over };
}

const exists = (p: string) => stat(p).then(
  () => true,
  () => false,
);

describe('evaluateModel with a probe model', () => {
  const ledger = Ledger.open(join(tmp, 'ledger.sqlite'));
  afterAll(() => ledger.close());
  let firstId = 0;

  it('evaluates every image of a known class, agrees with a direct prediction, writes reports and records the evaluation', async () => {
    const progress = new Set<string>();
    const r = await evaluateModel(options(ledger, { onProgress: (p) => progress.add(p.stage) }));
    firstId = r.evaluationId;
    expect(r.featuresFromCache).toBe(0);

    // 16 images of the two classes the model knows; the 8 green triangles are reported and left out.
    expect(r.metrics.samples).toBe(16);
    expect(r.record.dataset).toMatchObject({
      scanned: 24,
      evaluated: 16,
      excluded: [{ label: 'green triangle', images: 8 }],
      renamed: [{ label: 'Blue_Square', class: 'blue square' }],
      classesWithoutImages: [],
    });
    expect(r.metrics.perClass.map((c) => c.support)).toEqual([8, 8]);
    expect(r.record.info.tinyModels).toBe(true);
    expect([...progress]).toEqual(expect.arrayContaining(['scan', 'embed-images', 'predict']));

    // The same numbers from an independent path: embed, normalise, model.predict, metrics.
    const files = (await listImages(evalDir)).filter((f) => f.label !== 'green triangle');
    const feats = (await embedFiles(
      clip,
      files.map((f) => f.path),
    )).map(l2Normalize);
    const probs = tf.tidy(() => {
      const y = probe1.predict(tf.tensor2d(feats.flatMap((f) => [...f]), [feats.length, feats[0]!.length])) as ReturnType<typeof tf.tensor2d>;
      return y.arraySync() as number[][];
    });
    const direct = computeMetrics(
      probs,
      files.map((f) => (f.label === 'red circle' ? 0 : 1)),
      CLASSES,
    );
    expect(r.metrics.confusion).toEqual(direct.confusion);
    expect(r.metrics.accuracy).toBeCloseTo(direct.accuracy, 10);
    expect(r.metrics.macroAuroc!).toBeCloseTo(direct.macroAuroc!, 6);
    expect(r.metrics.ece).toBeCloseTo(direct.ece, 5);
    // Red vs blue is separable even with the tiny CLIP's colour-driven embeddings.
    expect(r.metrics.accuracy).toBeGreaterThanOrEqual(0.9);

    // Reports.
    const json = EvaluationRecord.parse(JSON.parse(await readFile(r.reportPaths.json, 'utf8')));
    expect(json.metrics).toEqual(r.metrics);
    expect(await readFile(r.reportPaths.csv, 'utf8')).toMatch(/^class,support,precision,recall,f1,auroc\nred circle,8,/);
    const md = await readFile(r.reportPaths.markdown, 'utf8');
    expect(md).toContain('# Evaluation of model v1 (study shapes)');
    expect(md).toContain('Tiny test models');
    expect(md).toContain('8 image(s) labelled "green triangle" were left out');
    expect(await readFile(r.reportPaths.html, 'utf8')).toContain('<h1>Evaluation of model v1');

    // Ledger: the evaluation row, the model row (inserted as verified), the dataset, the CLIP cache.
    const row = ledger.evaluations.get(r.evaluationId)!;
    expect(row.reportPath).toBe(r.reportPaths.json);
    expect(EvaluationRecord.parse(row.metrics).metrics.accuracy).toBe(r.metrics.accuracy);
    const model = ledger.models.get(row.modelId)!;
    expect(model).toMatchObject({ studyId: 'shapes', version: 1, verified: 'verified', dir: probe1Dir });
    expect(ledger.datasets.get(row.datasetId)!.root).toBe(evalDir);
    expect(ledger.db.prepare('SELECT count(*) AS n FROM clip_embeddings WHERE model_sha256 = ?').get(clipSha)).toEqual({ n: 16 });
  });

  it('reuses the cached CLIP features, compares two evaluations side by side', async () => {
    const r2 = await evaluateModel(options(ledger, { modelDir: probe2Dir }));
    expect(r2.metrics.samples).toBe(16);
    expect(r2.featuresFromCache).toBe(16);
    const md = compareEvaluations(ledger, firstId, r2.evaluationId);
    const a = EvaluationRecord.parse(ledger.evaluations.get(firstId)!.metrics).metrics;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    expect(md).toContain('# Model v1 vs v2');
    expect(md).toContain(`| accuracy | ${pct(a.accuracy)} | ${pct(r2.metrics.accuracy)} |`);
    expect(md).toContain(`| balanced accuracy | ${pct(a.balancedAccuracy)} | ${pct(r2.metrics.balancedAccuracy)} |`);
    expect(md).toContain('Tiny test models');
    expect(md).not.toContain('Different datasets');
    expect(() => compareEvaluations(ledger, firstId, 9999)).toThrow(/Evaluation 9999 is not in the ledger/);
  });

  it("follows the operator's folder → class map as prepare does: a folder left out, another named; a class the model lacks is refused", async () => {
    // green triangle is used as "red circle" here (a deliberate, visible choice); Blue_Square is left out.
    const r = await evaluateModel(options(ledger, { classMap: { 'green triangle': 'red circle', Blue_Square: null } }));
    expect(r.metrics.samples).toBe(16);
    expect(r.record.dataset).toMatchObject({
      excluded: [{ label: 'Blue_Square', images: 8 }],
      renamed: [{ label: 'green triangle', class: 'red circle' }],
      classesWithoutImages: ['blue square'],
    });
    expect(r.metrics.perClass.map((c) => c.support)).toEqual([16, 0]);
    const err = await evaluateModel(options(ledger, { classMap: { Blue_Square: 'Blue Square' } })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EvaluationError);
    expect((err as Error).message).toBe('The folder "Blue_Square" is mapped to "Blue Square", which is not a class of the model (red circle, blue square).');
  });

  it('evaluates a model the ledger already verified without a key, and rechecks its files', async () => {
    const r = await evaluateModel(options(ledger, { trust: null }));
    expect(r.manifest.version).toBe(1);
    const copy = join(tmp, 'model-v1-tampered');
    await cp(probe1Dir, copy, { recursive: true });
    const shard = join(copy, 'group1-shard1of1.bin');
    const bytes = await readFile(shard);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(shard, bytes);
    const e = await evaluateModel(options(ledger, { trust: null, modelDir: copy })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ModelVerificationError);
    expect((e as ModelVerificationError).check).toBe('file_hash');
    // A model the ledger never verified is refused without a key.
    const e2 = await evaluateModel(options(Ledger.open(':memory:'), { trust: null })).catch((x: unknown) => x);
    expect((e2 as ModelVerificationError).message).toMatch(/no pinned server key/);
  });
});

describe('a downloaded copy that stops verifying', () => {
  it('is marked failed in the ledger and no longer evaluated without a key', async () => {
    const ledger = Ledger.open(':memory:');
    try {
      const copy = join(tmp, 'model-v1-held');
      await cp(probe1Dir, copy, { recursive: true });
      await evaluateModel(options(ledger, { modelDir: copy }));
      expect(ledger.models.byVersion('shapes', 1)).toMatchObject({ verified: 'verified', dir: copy });
      await appendFile(join(copy, 'model.json'), ' ');
      const e = (await evaluateModel(options(ledger, { modelDir: copy })).then(
        () => null,
        (x: unknown) => x,
      )) as ModelVerificationError;
      expect(e.check).toBe('file_size');
      expect(ledger.models.byVersion('shapes', 1)).toMatchObject({ verified: 'failed', verifyError: e.message });
      await expect(evaluateModel(options(ledger, { modelDir: copy, trust: null }))).rejects.toThrow(/no pinned server key/);
    } finally {
      ledger.close();
    }
  });
});

describe('refusals come before any work on the images', () => {
  async function refused(over: Partial<EvaluateModelOptions>) {
    const ledger = Ledger.open(':memory:');
    const outDir = join(tmp, `refused-${Math.random().toString(36).slice(2)}`);
    const stages: string[] = [];
    try {
      const err = await evaluateModel(options(ledger, { outDir, onProgress: (p) => stages.push(p.stage), ...over })).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err).not.toBeNull();
      // No scan, no CLIP features, no prediction, no reports, no rows.
      expect(stages).toEqual([]);
      expect(ledger.db.prepare('SELECT count(*) AS n FROM clip_embeddings').get()).toEqual({ n: 0 });
      expect(ledger.evaluations.list()).toEqual([]);
      expect(ledger.models.list()).toEqual([]);
      expect(await exists(outDir)).toBe(false);
      return err!;
    } finally {
      ledger.close();
    }
  }

  it('a tampered weight file', async () => {
    const dir = join(tmp, 'tampered');
    await cp(probe1Dir, dir, { recursive: true });
    const shard = join(dir, 'group1-shard1of1.bin');
    const bytes = await readFile(shard);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await writeFile(shard, bytes);
    const e = await refused({ modelDir: dir });
    expect(e).toBeInstanceOf(ModelVerificationError);
    expect((e as ModelVerificationError).check).toBe('file_hash');
  });

  it('a model signed by a key other than the pinned one', async () => {
    const other = makeServerKey();
    const e = await refused({ trust: { publicKeyPem: other.publicKeyPem, pinnedFingerprint: server.fingerprint } });
    expect((e as ModelVerificationError).check).toBe('key_pin');
  });

  it('a probe trained on another CLIP than the local one', async () => {
    const dir = join(tmp, 'other-backbone');
    await writeSignedModel(dir, probe1, server.privateKey, probeFields(5, 'f'.repeat(64)));
    const e = await refused({ modelDir: dir });
    expect(e).toBeInstanceOf(EvaluationError);
    expect(e.message).toMatch(/is not the backbone model v5 was trained on \(fgl-tiny\/clip, sha256 ffffffffffff…\)/);
    expect((e as EvaluationError).hint).toMatch(/Install fgl-tiny\/clip/);
  });

  it('a probe without a local CLIP folder', async () => {
    const e = await refused({ clipDir: undefined });
    expect(e.message).toMatch(/no local CLIP folder/);
  });
});

describe('evaluateModel with a cnn model', () => {
  it('preprocesses pixels per the manifest (resize, centre crop, ImageNet mean/std) and matches a direct prediction', async () => {
    const size = 16;
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [size, size, 3], filters: 4, kernelSize: 3, strides: 2, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      ],
    });
    const dir = join(tmp, 'cnn-v1');
    await writeSignedModel(dir, model, server.privateKey, {
      studyId: 'shapes-cnn',
      version: 1,
      classes: CLASSES,
      kind: 'cnn',
      preprocessing: { input: 'pixels', size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], normalize: true },
      backbone: null,
    });
    const ledger = Ledger.open(':memory:');
    try {
      const r = await evaluateModel(options(ledger, { modelDir: dir, clipDir: undefined, batchSize: 5 }));
      expect(r.metrics.samples).toBe(16);
      expect(r.record.devices).toEqual({ tfjs: 'wasm' });
      expect(r.record.info.tinyModels).toBeUndefined();
      const files = (await listImages(evalDir)).filter((f) => f.label !== 'green triangle');
      const inputs: Float32Array[] = [];
      for (const f of files) {
        const d = await decodeImage(f.path, { resizeShortSide: resizeSideFor(size) });
        inputs.push(imageToModelInput(tf, d, size));
      }
      const probs = tf.tidy(() => (model.predict(tf.tensor4d(inputs.flatMap((x) => [...x]), [inputs.length, size, size, 3])) as ReturnType<typeof tf.tensor2d>).arraySync() as number[][]);
      const direct = computeMetrics(
        probs,
        files.map((f) => (f.label === 'red circle' ? 0 : 1)),
        CLASSES,
      );
      expect(r.metrics.confusion).toEqual(direct.confusion);
      r.metrics.perClass.forEach((c, i) => expect(c.auroc ?? -1).toBeCloseTo(direct.perClass[i]!.auroc ?? -1, 5));
      expect(r.metrics.ece).toBeCloseTo(direct.ece, 5);
    } finally {
      ledger.close();
      model.dispose();
    }
  });
});

describe('offline by construction', () => {
  const repo = join(import.meta.dirname, '..', '..', '..');
  const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

  /** Every source file reachable from `entry` through relative imports, and every package it imports. */
  async function moduleGraph(entry: string): Promise<{ files: Set<string>; packages: Set<string> }> {
    const files = new Set<string>();
    const packages = new Set<string>();
    const todo = [entry];
    while (todo.length > 0) {
      const file = todo.pop()!;
      if (files.has(file)) continue;
      files.add(file);
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const spec = (m[1] ?? m[2] ?? m[3])!;
        if (!spec.startsWith('.')) {
          packages.add(spec);
          continue;
        }
        const base = join(file, '..', spec);
        const candidates = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')];
        const found = (await Promise.all(candidates.map(exists))).findIndex(Boolean);
        if (found < 0) throw new Error(`${file} imports ${spec}, which resolves to no file`);
        todo.push(candidates[found]!);
      }
    }
    return { files, packages };
  }

  it('evaluate-model.ts reaches neither the site client, the model downloader, nor any HTTP module', async () => {
    const src = (p: string) => join(repo, 'src', ...p.split('/'));
    const { files, packages } = await moduleGraph(src('site/evaluate/evaluate-model.ts'));
    // The walk really follows imports: these are reached only transitively.
    expect(files).toContain(src('core/models/verify-model-folder.ts'));
    expect(files).toContain(src('site/prepare/local-features.ts'));
    expect(files).toContain(src('core/inference/clip-model.ts'));
    expect(packages).toContain('@tensorflow/tfjs');
    expect(files).not.toContain(src('site/client/site-client.ts'));
    expect(files).not.toContain(src('core/models/model-store.ts'));
    const network = ['axios', 'undici', 'ws', 'http', 'https', 'http2', 'net', 'tls', 'dgram'];
    const netPackages = [...packages].filter((p) => network.includes(p.replace(/^node:/, '')) || p.startsWith('axios/'));
    expect(netPackages).toEqual([]);
  });
});
