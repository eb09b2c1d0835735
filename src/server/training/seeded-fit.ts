import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../../core/tfjs/tfjs-backend';
import { createRng, deriveSeed, shuffleInPlace } from './seeded-random';

/**
 * `model.fit` that repeats itself for a seed: a seeded order each epoch and seeded dropout masks.
 * tfjs's own `shuffle: true` draws from Math.random, so two runs with one seed trained the
 * experiment's CNN differently (rows up to 21 points apart; docs/experiments.md, "Repeatability").
 * The optimizer's state lives on the model, so epochs of one call each are the same training as
 * one call of many epochs. (The production trainers use fitLoop, which seeds both itself.)
 */
export async function seededFit(
  tf: Tf,
  model: LayersModel,
  x: Tensor,
  y: Tensor,
  o: { epochs: number; batchSize: number; seed: number },
): Promise<void> {
  const n = x.shape[0]!;
  const rng = createRng(o.seed);
  // A Dropout layer draws its mask from Math.random unless it has a seed, and one fixed seed
  // repeats one mask; so each batch gets its own seed (the probe's FedAvg rows varied by 3 points).
  const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as {
    seed?: number;
  }[];
  for (let e = 0; e < o.epochs; e++) {
    const order = tf.tensor1d(
      shuffleInPlace(
        Array.from({ length: n }, (_, i) => i),
        rng,
      ),
      'int32',
    );
    const xs = tf.gather(x, order);
    const ys = tf.gather(y, order);
    const onBatchBegin = (batch: number) =>
      dropouts.forEach((d) => (d.seed = deriveSeed(o.seed, e * 100_000 + batch)));
    try {
      await model.fit(xs, ys, {
        epochs: 1,
        batchSize: o.batchSize,
        shuffle: false,
        verbose: 0,
        callbacks: { onBatchBegin },
      });
    } finally {
      order.dispose();
      xs.dispose();
      ys.dispose();
    }
  }
}
