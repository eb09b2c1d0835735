/**
 * Would a broken federation be caught? With the tiny random models every accuracy is at chance,
 * so a label permutation anywhere between a site's folder and the published model passes every
 * other test. Here the mini bundle (a small CLIP + generator trained on Fashion-MNIST's train
 * split) runs the whole system on real held-out test images, so accuracy means something.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoResult } from '../../src/cli/demo/run-demo';
import { folderFeatures } from '../../src/cli/demo/site-alone';
import { FASHION_CLASSES } from '../../src/cli/mini-models/fashion-classes';
import { BUNDLED_FASHION_MNIST_DIR } from '../../src/cli/sample-data/fashion-mnist';
import { buildStudyManifest } from '../../src/cli/study/build-study';
import { describeModelsFolder, MINI_MODELS_DIR } from '../../src/cli/study/models-folder';
import { loadClip } from '../../src/core/inference/clip-model';
import { loadModelFromDir } from '../../src/core/tfjs/file-io';
import { predictProbabilities } from '../../src/core/tfjs/predict-probabilities';
import { loadTf } from '../../src/core/tfjs/tfjs-backend';
import { createDiffusionStages } from '../../src/server/jobs/diffusion-round-stages';
import type { StageContext } from '../../src/server/jobs/round-stages';
import type { StoredPackage } from '../../src/server/store/server-store';
import { decodePackage, encodePackage } from '../../src/shared/embedding-package';
import { computeMetrics } from '../../src/site/evaluate/classification-metrics';
import { Ledger } from '../../src/site/ledger/ledger';

const CHANCE = 1 / FASHION_CLASSES.length;
let work: string;
let result: DemoResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fgl-mini-fed-'));
  result = await runDemo({
    sites: 3,
    beta: 0.5,
    classes: 10,
    perClass: 0,
    images: 600,
    datasetDir: BUNDLED_FASHION_MNIST_DIR,
    seed: 11,
    modelsDir: MINI_MODELS_DIR,
    device: 'cpu',
    workDir: work,
    say: () => {},
  });
}, 600_000);
afterAll(() => rm(work, { recursive: true, force: true }));

/** Synthesis + training on exactly these package files, as the server's round runs them. */
async function trainOn(packages: StoredPackage[], dir: string): Promise<string> {
  const models = await describeModelsFolder(MINI_MODELS_DIR);
  const study = buildStudyManifest({
    id: 'relabel-test',
    name: 'relabel test',
    classes: [...FASHION_CLASSES],
    models,
    k: 3,
    imagesPerRow: 8,
  });
  let state: unknown = null;
  const ctx: StageContext = {
    roundId: 'r1',
    study,
    packages,
    workDir: dir,
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    progress: () => {},
    checkpoint: { get: () => state, set: (v) => void (state = v) },
  };
  const stages = createDiffusionStages({
    generatorDir: models.generator.dir,
    clipDir: models.clip.dir,
    device: 'cpu',
    batchSize: 8,
  });
  await stages.synthesize(ctx);
  return (await stages.train(ctx)).modelDir;
}

/** Accuracy of a trained probe on one site's held-out images, from the features its ledger cached. */
async function heldOutAccuracy(site: string, modelDir: string): Promise<number> {
  const models = await describeModelsFolder(MINI_MODELS_DIR);
  const ledger = Ledger.open(join(work, 'sites', site, 'ledger.sqlite'));
  const clip = await loadClip(models.clip.dir, { device: 'cpu' });
  try {
    const held = await folderFeatures(
      { ledger, clipDigest: models.clip.sha256!, classes: FASHION_CLASSES },
      join(work, 'data', site, 'eval'),
      clip,
    );
    const { tf } = await loadTf();
    const model = await loadModelFromDir(modelDir, tf);
    try {
      return computeMetrics(
        predictProbabilities(tf, model, held.features),
        held.labels,
        FASHION_CLASSES,
      ).accuracy;
    } finally {
      model.dispose();
    }
  } finally {
    await clip.dispose();
    ledger.close();
  }
}

describe('a federation on the mini bundle learns (Fashion-MNIST, held-out site data)', () => {
  it('every site evaluates the published model far above chance, on images its package never came from', () => {
    expect(result.miniModels).toBe(true);
    expect(result.dataset).toMatchObject({ name: 'fashion-mnist', split: 'test' });
    for (const s of result.sites) {
      expect(s.modelVerified).toBe(true);
      expect(s.evaluatedImages).toBeGreaterThan(20);
      // Chance is 10 %; a permuted or unconditioned pipeline lands there.
      expect(s.accuracy, `${s.site}: ${s.accuracy}`).toBeGreaterThan(CHANCE + 0.4);
      expect(s.alone).not.toBeNull();
    }
    const mean = result.sites.reduce((a, s) => a + s.accuracy, 0) / result.sites.length;
    expect(mean).toBeGreaterThan(0.6);
  });

  it('permuting the labels in one site’s package measurably lowers that site’s accuracy', async () => {
    // The stored packages, each with the site that sent it.
    const stored = (await readdir(join(work, 'server', 'packages'), { recursive: true })).filter(
      (f) => f.endsWith('.safetensors'),
    );
    const bySite = new Map<string, StoredPackage>();
    for (const s of result.sites) {
      const ledger = Ledger.open(join(work, 'sites', s.site, 'ledger.sqlite'));
      const sha = ledger.uploads.list()[0]!.packageSha256;
      ledger.close();
      const rel = stored.find((f) => f.includes(sha))!;
      bySite.set(s.site, {
        sha256: sha,
        studyId: result.studyId,
        siteId: s.siteId,
        bytes: s.bytesUploaded,
        rows: s.packageRows,
        metadata: {},
        receivedAt: new Date().toISOString(),
        path: join(work, 'server', 'packages', rel),
      });
    }
    const target = [...result.sites].sort((a, b) => b.packageRows - a.packageRows)[0]!;
    // The same packages, with every label of the target site's package shifted by one class (what a
    // swapped class list would do). Synthesis seeds are per package row, so the other sites' images
    // are exactly those of the demo's round.
    const original = bySite.get(target.site)!;
    const pkg = decodePackage(new Uint8Array(await readFile(original.path)));
    const shifted = pkg.labels.map((l) => (l + 1) % FASHION_CLASSES.length);
    const tamperedPath = join(work, 'tampered.safetensors');
    await writeFile(tamperedPath, encodePackage({ ...pkg, labels: Int32Array.from(shifted) }));
    const tampered = await trainOn(
      [...bySite.values()].map((p) => (p.siteId === original.siteId ? { ...p, path: tamperedPath } : p)),
      join(work, 'tampered'),
    );
    const tamperedAcc = await heldOutAccuracy(target.site, tampered);
    expect(tamperedAcc, `honest ${target.accuracy}, tampered ${tamperedAcc}`).toBeLessThan(target.accuracy - 0.2);
  }, 600_000);
});
