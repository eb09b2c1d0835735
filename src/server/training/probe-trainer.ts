import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import type { TrainingSettings } from '../../shared/study';
import { loadTf, type LoadedTf } from '../../core/tfjs/tfjs-backend';
import { l2Normalize } from '../../core/tfjs/l2-normalize';
import { fitLoop, type TrainingProgress, type TrainingResult } from './fit-loop';
import { createRng, deriveSeed } from './seeded-random';
import { stratifiedSplit } from './stratified-split';

export interface ProbeOptions {
  /** Hidden units of the MLP head; 0 = linear probe (softmax regression). Default 256. */
  hidden?: number;
  /** Dropout after the hidden layer (ignored when hidden = 0). Default 0.2. */
  dropout?: number;
}

export interface ProbeTrainingInput {
  /** One CLIP image embedding per synthetic image; L2-normalised here (sites do the same). */
  features: Float32Array[];
  /** Class index per feature, 0 ≤ label < classes.length. */
  labels: number[];
  classes: string[];
  settings: TrainingSettings;
  probe?: ProbeOptions;
  signal?: AbortSignal;
  onProgress?: (p: TrainingProgress) => void;
  log?: (line: string) => void;
  /** tfjs to use; default `loadTf()`. */
  tf?: LoadedTf;
}

export interface ProbeTrainingResult extends TrainingResult {
  /** What a site must do before predicting (goes into the model manifest). */
  preprocessing: { input: 'clip-image-embeds'; normalize: true };
}

export const DEFAULT_PROBE_HIDDEN = 256;
export const DEFAULT_PROBE_DROPOUT = 0.2;

/** Dense(hidden, relu) → Dropout → Dense(classes, softmax), or Dense(classes, softmax) when hidden = 0; seeded Glorot init. */
export function buildProbeModel(
  tf: LoadedTf['tf'],
  dim: number,
  classes: number,
  seed: number,
  options: ProbeOptions = {},
): LayersModel {
  const hidden = options.hidden ?? DEFAULT_PROBE_HIDDEN;
  const dropout = options.dropout ?? DEFAULT_PROBE_DROPOUT;
  const model = tf.sequential({ name: 'fgl_probe' });
  if (hidden > 0) {
    model.add(
      tf.layers.dense({
        inputShape: [dim],
        units: hidden,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, 1) }),
        name: 'hidden',
      }),
    );
    model.add(tf.layers.dropout({ rate: dropout, name: 'dropout' }));
  }
  model.add(
    tf.layers.dense({
      ...(hidden > 0 ? {} : { inputShape: [dim] }),
      units: classes,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, 2) }),
      name: 'classes',
    }),
  );
  return model;
}

function checkInput(input: ProbeTrainingInput): number {
  const { features, labels, classes } = input;
  if (classes.length < 2)
    throw new Error(`Training needs at least 2 classes; got ${classes.length}.`);
  if (features.length !== labels.length)
    throw new Error(
      `Got ${features.length} feature vectors but ${labels.length} labels; pass one label per feature.`,
    );
  if (features.length < 2)
    throw new Error(
      `Training needs at least 2 samples; got ${features.length}. Synthesize more images.`,
    );
  const dim = features[0]!.length;
  features.forEach((f, i) => {
    if (f.length !== dim)
      throw new Error(
        `Feature ${i} has ${f.length} values, feature 0 has ${dim}; all embeddings must come from one encoder.`,
      );
    if (!f.every(Number.isFinite))
      throw new Error(`Feature ${i} contains NaN or Infinity; re-embed that image.`);
  });
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= classes.length)
      throw new Error(`Label ${l} of sample ${i} is not a class index in [0, ${classes.length}).`);
  });
  return dim;
}

function gatherRows(rows: Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(r, i * dim));
  return out;
}

/**
 * Trains the default global model: an MLP head on frozen, L2-normalised CLIP image embeddings.
 *
 * Optimizer: Adam at settings.learningRate. Unit-norm embeddings have per-coordinate values of
 * order 1/√D (≈ 0.04 for D = 512), so plain SGD at the paper's 0.01 crawls; Adam's per-parameter
 * scaling makes the head converge in tens of epochs whatever D is.
 */
export async function trainProbe(input: ProbeTrainingInput): Promise<ProbeTrainingResult> {
  const loaded = input.tf ?? (await loadTf(input.log));
  const { tf } = loaded;
  const dim = checkInput(input);
  const { settings } = input;
  const split = stratifiedSplit(input.labels, settings.validationSplit, settings.seed);
  if (split.val.length === 0)
    throw new Error(
      'No class has 2 or more samples, so nothing can be held out for validation; synthesize more images per class.',
    );

  const normalized = input.features.map(l2Normalize);
  const trainX = tf.tensor2d(
    gatherRows(
      split.train.map((i) => normalized[i]!),
      dim,
    ),
    [split.train.length, dim],
  );
  const valX = tf.tensor2d(
    gatherRows(
      split.val.map((i) => normalized[i]!),
      dim,
    ),
    [split.val.length, dim],
  );
  const model = buildProbeModel(tf, dim, input.classes.length, settings.seed, input.probe);
  const optimizer = tf.train.adam(settings.learningRate);
  const dropoutSeed = deriveSeed(settings.seed, 3);
  input.log?.(
    `probe: ${split.train.length} train / ${split.val.length} validation samples, D=${dim}, ` +
      `hidden=${input.probe?.hidden ?? DEFAULT_PROBE_HIDDEN}, ${input.classes.length} classes, Adam lr=${settings.learningRate}, backend ${loaded.backend}`,
  );

  // Layer by layer so dropout masks are seeded per step (a Dropout layer's own seed repeats one mask).
  const forward = (x: Tensor, training: boolean, step: number): Tensor => {
    let h = x;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'Dropout') {
        const rate = (layer.getConfig() as { rate: number }).rate;
        if (training && rate > 0) h = tf.dropout(h, rate, undefined, `${dropoutSeed}:${step}`);
      } else {
        h = layer.apply(h) as Tensor;
      }
    }
    return h;
  };

  try {
    const result = await fitLoop({
      tf,
      backend: loaded.backend,
      model,
      optimizer,
      settings,
      numClasses: input.classes.length,
      trainLabels: Int32Array.from(split.train, (i) => input.labels[i]!),
      valLabels: Int32Array.from(split.val, (i) => input.labels[i]!),
      trainInputs: (positions) => tf.gather(trainX, positions),
      valInputs: (start, end) => valX.slice([start, 0], [end - start, dim]),
      forward,
      rng: createRng(deriveSeed(settings.seed, 4)),
      signal: input.signal,
      onProgress: input.onProgress,
    });
    return { ...result, preprocessing: { input: 'clip-image-embeds', normalize: true } };
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    trainX.dispose();
    valX.dispose();
    optimizer.dispose();
  }
}
