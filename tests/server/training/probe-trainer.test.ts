import { describe, expect, it } from 'vitest';
import { TrainingSettings } from '../../../src/shared/study';
import { loadTf } from '../../../src/core/tfjs/tfjs-backend';
import { l2Normalize } from '../../../src/core/tfjs/l2-normalize';
import { predictProbabilities } from '../../../src/core/tfjs/predict-probabilities';
import { trainProbe } from '../../../src/server/training/probe-trainer';
import { stratifiedSplit } from '../../../src/server/training/stratified-split';
import { createRng, shuffleInPlace } from '../../../src/server/training/seeded-random';
import type { TrainingProgress } from '../../../src/server/training/fit-loop';
import { unitSphereClusters } from './synthetic-clusters';

const classes = ['a', 'b', 'c', 'd'];
const data = unitSphereClusters({ classes: 4, dim: 32, perClass: 100, noise: 1.5, seed: 7 });
const settings = (over: Partial<TrainingSettings> = {}): TrainingSettings =>
  TrainingSettings.parse({
    epochs: 40,
    batchSize: 32,
    learningRate: 0.01,
    validationSplit: 0.2,
    patience: 5,
    seed: 1,
    ...over,
  });

function shuffledLabels(labels: number[], seed: number): number[] {
  return shuffleInPlace([...labels], createRng(seed));
}

describe('trainProbe', () => {
  it('learns separable clusters on the unit sphere (val accuracy ≥ 0.95)', async () => {
    const progress: TrainingProgress[] = [];
    const result = await trainProbe({
      ...data,
      classes,
      settings: settings(),
      onProgress: (p) => progress.push(p),
    });
    expect(result.backend).toBe('wasm');
    expect(result.metrics.valSamples).toBe(80);
    expect(result.metrics.valAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.history[0]!.loss).toBeGreaterThan(result.history.at(-1)!.loss);
    expect(progress.map((p) => p.done)).toEqual(result.history.map((h) => h.epoch));
    expect(
      progress.every((p) => p.stage === 'training' && p.total === 40 && p.ratePerSec > 0),
    ).toBe(true);
    result.model.dispose();
  });

  it('a linear probe (hidden = 0) also separates them', async () => {
    const result = await trainProbe({
      ...data,
      classes,
      settings: settings({ learningRate: 0.05 }),
      probe: { hidden: 0 },
    });
    expect(result.model.layers.map((l) => l.getClassName())).toEqual(['Dense']);
    expect(result.metrics.valAccuracy).toBeGreaterThanOrEqual(0.95);
    result.model.dispose();
  });

  it('stays near chance on shuffled labels', async () => {
    const result = await trainProbe({
      ...data,
      labels: shuffledLabels(data.labels, 3),
      classes,
      settings: settings(),
    });
    // chance is 0.25; 80 validation samples give σ ≈ 0.05
    expect(result.metrics.valAccuracy).toBeLessThan(0.45);
    result.model.dispose();
  });

  it('stops early on a plateau and restores the best epoch’s weights', async () => {
    const labels = shuffledLabels(data.labels, 5);
    const s = settings({ epochs: 300, patience: 4, learningRate: 0.02 });
    const result = await trainProbe({ ...data, labels, classes, settings: s });
    const valLosses = result.history.map((h) => h.valLoss);
    expect(result.metrics.epochs).toBeLessThan(300);
    expect(result.metrics.epochs).toBe(result.bestEpoch + 4);
    expect(result.metrics.valLoss).toBe(Math.min(...valLosses));
    expect(valLosses.at(-1)!).toBeGreaterThan(result.metrics.valLoss);

    // The returned model really holds the best epoch: recompute its validation loss.
    const { tf } = await loadTf();
    const { val } = stratifiedSplit(labels, s.validationSplit, s.seed);
    const probs = predictProbabilities(
      tf,
      result.model,
      val.map((i) => l2Normalize(data.features[i]!)),
    );
    const loss =
      probs.reduce((sum, p, k) => sum - Math.log(Math.max(p[labels[val[k]!]!]!, 1e-7)), 0) /
      val.length;
    expect(loss).toBeCloseTo(result.metrics.valLoss, 4);
    result.model.dispose();
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const run = async (seed: number): Promise<{ losses: number[]; probs: Float32Array[] }> => {
      const { tf } = await loadTf();
      const r = await trainProbe({ ...data, classes, settings: settings({ epochs: 5, seed }) });
      const probs = predictProbabilities(tf, r.model, data.features.slice(0, 20).map(l2Normalize));
      r.model.dispose();
      return { losses: r.history.map((h) => h.loss), probs };
    };
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    expect(b.losses).toEqual(a.losses);
    expect(b.probs).toEqual(a.probs);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('rejects bad input with a message that says what to fix', async () => {
    await expect(
      trainProbe({ ...data, labels: data.labels.slice(1), classes, settings: settings() }),
    ).rejects.toThrow(/one label per feature/);
    await expect(
      trainProbe({ ...data, labels: data.labels.map(() => 9), classes, settings: settings() }),
    ).rejects.toThrow(/not a class index/);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const run = trainProbe({
      ...data,
      classes,
      settings: settings({ epochs: 1000, patience: 1000 }),
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done === 2) controller.abort(new Error('cancelled by test'));
      },
    });
    await expect(run).rejects.toThrow('cancelled by test');
  });
});
