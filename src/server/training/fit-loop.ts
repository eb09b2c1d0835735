import type { LayersModel, Optimizer, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { TrainingSettings } from '../../shared/study';
import type { Tf } from '../../core/tfjs/tfjs-backend';
import { shuffleInPlace, type Rng } from './seeded-random';

export interface TrainingProgress {
  stage: 'training';
  /** Epochs finished. */
  done: number;
  /** settings.epochs (early stopping may finish sooner). */
  total: number;
  /** Training samples per second so far (optimizer steps only, not validation). */
  ratePerSec: number;
  /** Seconds left if every remaining epoch runs; null before the first epoch ends. */
  etaSec: number | null;
  valAccuracy?: number;
  valLoss?: number;
}

export interface EpochRecord {
  epoch: number;
  /** Mean training loss of the epoch (cross-entropy + regularisation). */
  loss: number;
  valLoss: number;
  valAccuracy: number;
  samples: number;
  trainSeconds: number;
}

export interface TrainingMetrics {
  /** Of the restored (best) epoch, on the held-out split. */
  valAccuracy: number;
  valLoss: number;
  valSamples: number;
  /** Epochs actually run. */
  epochs: number;
}

export interface TrainingResult {
  model: LayersModel;
  metrics: TrainingMetrics;
  backend: string;
  history: EpochRecord[];
  /** Epoch whose weights the model holds (1-based). */
  bestEpoch: number;
}

export interface FitLoopInput {
  tf: Tf;
  backend: string;
  model: LayersModel;
  optimizer: Optimizer;
  settings: TrainingSettings;
  numClasses: number;
  trainLabels: Int32Array;
  valLabels: Int32Array;
  /** Input batch for training positions `positions` (0..trainLabels.length); augment here. */
  trainInputs: (positions: number[]) => Tensor;
  /** Input batch for validation positions [start, end). */
  valInputs: (start: number, end: number) => Tensor;
  /** Forward pass returning class probabilities; `step` seeds any randomness of this step. */
  forward: (x: Tensor, training: boolean, step: number) => Tensor;
  rng: Rng;
  signal?: AbortSignal;
  onProgress?: (p: TrainingProgress) => void;
}

// Pure-JS tfjs blocks the thread for a whole step; yielding lets abort signals and HTTP through.
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function crossEntropy(tf: Tf, probs: Tensor, labels: Tensor, numClasses: number): Tensor {
  // Same epsilon as Keras's categorical cross-entropy on probabilities.
  const onehot = tf.oneHot(labels, numClasses);
  return tf.neg(tf.sum(tf.mul(onehot, tf.log(tf.clipByValue(probs, 1e-7, 1))), -1));
}

/**
 * Mini-batch training with a seeded shuffle, per-epoch validation, and early stopping on
 * validation loss that restores the best epoch's weights (tfjs's own EarlyStopping cannot).
 * A custom loop rather than model.fit because fit shuffles with Math.random (not reproducible).
 */
export async function fitLoop(input: FitLoopInput): Promise<TrainingResult> {
  const { tf, model, optimizer, settings, numClasses, trainLabels, valLabels, signal } = input;
  const trainCount = trainLabels.length;
  const valCount = valLabels.length;
  const batchSize = Math.min(settings.batchSize, trainCount);
  const variables = model.trainableWeights.map((w) => w.read() as Variable);
  const history: EpochRecord[] = [];
  let best: { epoch: number; valLoss: number; valAccuracy: number; weights: Tensor[] } | null =
    null;
  let sinceBest = 0;
  let step = 0;
  let trainedSamples = 0;
  let trainSeconds = 0;
  let wallSeconds = 0;

  const evaluate = (): { valLoss: number; valAccuracy: number } => {
    let lossSum = 0;
    let correct = 0;
    for (let start = 0; start < valCount; start += batchSize) {
      const end = Math.min(valCount, start + batchSize);
      const [loss, hits] = tf.tidy(() => {
        const probs = input.forward(input.valInputs(start, end), false, step);
        const y = tf.tensor1d(valLabels.subarray(start, end), 'int32');
        const l = crossEntropy(tf, probs, y, numClasses).sum().dataSync()[0]!;
        const h = tf.equal(tf.argMax(probs, -1), y).sum().dataSync()[0]!;
        return [l, h];
      });
      lossSum += loss;
      correct += hits;
    }
    return { valLoss: lossSum / valCount, valAccuracy: correct / valCount };
  };

  try {
    for (let epoch = 1; epoch <= settings.epochs; epoch++) {
      const epochStart = performance.now();
      const order = shuffleInPlace(
        Array.from({ length: trainCount }, (_, i) => i),
        input.rng,
      );
      let lossSum = 0;
      let epochTrainSeconds = 0;
      for (let start = 0; start < trainCount; start += batchSize) {
        signal?.throwIfAborted();
        const positions = order.slice(start, start + batchSize);
        const t0 = performance.now();
        const loss = tf.tidy(() => {
          const x = input.trainInputs(positions);
          const y = tf.tensor1d(
            Int32Array.from(positions, (p) => trainLabels[p]!),
            'int32',
          );
          const thisStep = step;
          return optimizer.minimize(
            () => {
              const ce = crossEntropy(
                tf,
                input.forward(x, true, thisStep),
                y,
                numClasses,
              ).mean() as Scalar;
              const reg = model.calculateLosses();
              return reg.length > 0 ? (tf.addN([ce, ...reg]) as Scalar) : ce;
            },
            true,
            variables,
          )!;
        });
        lossSum += loss.dataSync()[0]! * positions.length;
        loss.dispose();
        epochTrainSeconds += (performance.now() - t0) / 1000;
        step++;
        await yieldToEventLoop();
      }
      signal?.throwIfAborted();
      const { valLoss, valAccuracy } = evaluate();
      trainedSamples += trainCount;
      trainSeconds += epochTrainSeconds;
      wallSeconds += (performance.now() - epochStart) / 1000;
      history.push({
        epoch,
        loss: lossSum / trainCount,
        valLoss,
        valAccuracy,
        samples: trainCount,
        trainSeconds: epochTrainSeconds,
      });

      if (best === null || valLoss < best.valLoss) {
        best?.weights.forEach((w) => w.dispose());
        best = { epoch, valLoss, valAccuracy, weights: model.getWeights().map((w) => w.clone()) };
        sinceBest = 0;
      } else {
        sinceBest++;
      }
      input.onProgress?.({
        stage: 'training',
        done: epoch,
        total: settings.epochs,
        ratePerSec: trainSeconds > 0 ? trainedSamples / trainSeconds : 0,
        etaSec: (wallSeconds / epoch) * (settings.epochs - epoch),
        valAccuracy,
        valLoss,
      });
      if (sinceBest >= settings.patience) break;
    }
    model.setWeights(best!.weights);
    return {
      model,
      backend: input.backend,
      history,
      bestEpoch: best!.epoch,
      metrics: {
        valAccuracy: best!.valAccuracy,
        valLoss: best!.valLoss,
        valSamples: valCount,
        epochs: history.length,
      },
    };
  } finally {
    best?.weights.forEach((w) => w.dispose());
  }
}
