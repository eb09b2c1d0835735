import type { LayersModel } from '@tensorflow/tfjs';
import type { Tf } from './tfjs-backend';

/**
 * Class probabilities for each input, batched and inside tf.tidy so no tensor outlives a batch.
 * Each input is one sample flattened in the model's input layout (e.g. [D] embeddings or
 * [H, W, 3] normalised pixels); the model must end in softmax.
 */
export function predictProbabilities(
  tf: Tf,
  model: LayersModel,
  inputs: Float32Array[],
  batchSize = 256,
): Float32Array[] {
  const inputShape = model.inputs[0]!.shape.slice(1);
  if (inputShape.some((d) => d === null))
    throw new Error(
      `Model input shape [${inputShape.join(', ')}] has unknown dimensions; only fixed-size inputs can be batched.`,
    );
  const dims = inputShape as number[];
  const per = dims.reduce((a, b) => a * b, 1);
  inputs.forEach((x, i) => {
    if (x.length !== per)
      throw new Error(
        `Input ${i} has ${x.length} values but the model expects [${dims.join(', ')}] = ${per}; prepare inputs the way the model's manifest says.`,
      );
  });
  const out: Float32Array[] = [];
  for (let start = 0; start < inputs.length; start += batchSize) {
    const batch = inputs.slice(start, start + batchSize);
    const flat = new Float32Array(batch.length * per);
    batch.forEach((x, i) => flat.set(x, i * per));
    const probs = tf.tidy(() => {
      const y = model.predict(tf.tensor(flat, [batch.length, ...dims]));
      if (Array.isArray(y))
        throw new Error('Model has several outputs; expected one softmax output.');
      return y.dataSync() as Float32Array;
    });
    const classes = probs.length / batch.length;
    for (let i = 0; i < batch.length; i++) out.push(probs.slice(i * classes, (i + 1) * classes));
  }
  return out;
}
