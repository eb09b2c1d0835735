import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainingSettings } from '../../../src/shared/study';
import { loadTf } from '../../../src/core/tfjs/tfjs-backend';
import { imageToModelInput, type RgbImage } from '../../../src/core/tfjs/image-input';
import { loadModelFromDir, saveModelToDir } from '../../../src/core/tfjs/file-io';
import { predictProbabilities } from '../../../src/core/tfjs/predict-probabilities';
import { trainCnn } from '../../../src/server/training/cnn-trainer';
import { buildResNet } from '../../../src/server/training/resnet';
import { stratifiedSplit } from '../../../src/server/training/stratified-split';
import { createRng } from '../../../src/server/training/seeded-random';

/** Reddish vs bluish noisy images; every third one is 40×32 to exercise the resize path. */
function colourImages(n: number, seed: number): { images: RgbImage[]; labels: number[] } {
  const rng = createRng(seed);
  const images: RgbImage[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    const width = i % 3 === 0 ? 40 : 32;
    const height = 32;
    const base = c === 0 ? [200, 60, 60] : [60, 60, 200];
    const data = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++)
      for (let ch = 0; ch < 3; ch++)
        data[p * 3 + ch] = Math.max(0, Math.min(255, Math.round(base[ch]! + (rng() - 0.5) * 140)));
    images.push({ data, width, height });
    labels.push(c);
  }
  return { images, labels };
}

const settings = (over: Partial<TrainingSettings> = {}): TrainingSettings =>
  TrainingSettings.parse({
    kind: 'cnn',
    epochs: 2,
    batchSize: 8,
    learningRate: 0.01,
    validationSplit: 0.2,
    patience: 10,
    seed: 1,
    ...over,
  });

describe('trainCnn', () => {
  it('trains a small ResNet on 32 images: loss falls, validation beats chance, a site reproduces the accuracy from the saved model', async () => {
    const { images, labels } = colourImages(32, 4);
    const lines: string[] = [];
    const result = await trainCnn({
      images,
      labels,
      classes: ['red', 'blue'],
      settings: settings(),
      cnn: { size: 32, width: 8 },
      log: (l) => lines.push(l),
    });
    expect(result.backend).toBe('wasm');
    expect(lines.some((l) => /wasm backend \(one CPU thread\) is slow/.test(l))).toBe(true);
    expect(result.model.inputs[0]!.shape).toEqual([null, 32, 32, 3]);
    expect(result.preprocessing).toEqual({
      input: 'pixels',
      size: 32,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      normalize: true,
    });
    expect(result.history).toHaveLength(2);
    expect(result.history[1]!.loss).toBeLessThan(result.history[0]!.loss);
    expect(result.metrics.valSamples).toBe(6);
    expect(result.metrics.valAccuracy).toBeGreaterThan(0.5);

    // Save, load as a site would, run the site's preprocessing: the same validation accuracy.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-cnn-'));
    try {
      await saveModelToDir(result.model, dir);
      const { tf } = await loadTf();
      const loaded = await loadModelFromDir(dir);
      const { val } = stratifiedSplit(labels, 0.2, 1);
      const probs = predictProbabilities(
        tf,
        loaded,
        val.map((i) => imageToModelInput(tf, images[i]!, 32)),
      );
      const hits = probs.filter((p, k) => (p[1]! > p[0]! ? 1 : 0) === labels[val[k]!]).length;
      expect(hits / val.length).toBeCloseTo(result.metrics.valAccuracy, 6);
      const loss =
        probs.reduce((sum, p, k) => sum - Math.log(Math.max(p[labels[val[k]!]!]!, 1e-7)), 0) /
        val.length;
      expect(loss).toBeCloseTo(result.metrics.valLoss, 5);
      loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      result.model.dispose();
    }
  });

  it('is deterministic for a seed (init, split, shuffle, crops and flips all seeded)', async () => {
    const { images, labels } = colourImages(12, 8);
    const run = async (): Promise<number[]> => {
      const r = await trainCnn({
        images,
        labels,
        classes: ['red', 'blue'],
        settings: settings({ epochs: 1, batchSize: 4, validationSplit: 0.25 }),
        cnn: { size: 24, width: 4, blocks: [1, 1] },
      });
      r.model.dispose();
      return [r.history[0]!.loss, r.metrics.valLoss];
    };
    expect(await run()).toEqual(await run());
  });

  it('builds the weight decay as L2 terms on every trainable weight, and none when it is 0', async () => {
    const { tf } = await loadTf();
    const withDecay = buildResNet({
      tf,
      inputSize: 16,
      classes: 3,
      seed: 1,
      l2: 1e-4,
      options: { width: 4, blocks: [1, 1] },
    });
    const without = buildResNet({
      tf,
      inputSize: 16,
      classes: 3,
      seed: 1,
      l2: 0,
      options: { width: 4, blocks: [1, 1] },
    });
    expect(withDecay.calculateLosses()).toHaveLength(withDecay.trainableWeights.length);
    expect(without.calculateLosses()).toHaveLength(0);
    // resnet8-shaped: stem + 2 blocks × 2 convs + 1 projection; named after its depth
    expect(withDecay.name).toBe('fgl_resnet6');
    const r18 = buildResNet({
      tf,
      inputSize: 64,
      classes: 10,
      seed: 1,
      l2: 1e-4,
      options: { preset: 'resnet18' },
    });
    expect(r18.name).toBe('fgl_resnet18');
    expect(r18.countParams()).toBeGreaterThan(11_000_000); // torchvision's resnet18 with 10 classes: 11.18 M
    expect(r18.countParams()).toBeLessThan(11_300_000);
    [withDecay, without, r18].forEach((m) => m.dispose());
  });
});
