import { l2NormalizeVector } from '../tfjs/l2-normalize';

/** A tensor-like value: flat data + dims (transformers.js Tensor and ORT Tensor both fit). */
export type FlatTensor = { data: unknown; dims: readonly number[] };

/** Rows of a float32 [N, D] tensor as separate Float32Arrays (copies, so the tensor can be freed). */
export function splitRows(t: FlatTensor): Float32Array[] {
  if (t.dims.length !== 2) throw new Error(`Expected a [N, D] tensor, got [${t.dims.join(', ')}].`);
  if (!(t.data instanceof Float32Array))
    throw new Error('Expected float32 embeddings (load the model with dtype fp32).');
  const [n, d] = t.dims as [number, number];
  const data = t.data;
  return Array.from({ length: n }, (_, i) => data.slice(i * d, (i + 1) * d));
}

/** A CLIP embedding as a unit vector; a zero vector (which has no direction) is an error, not NaNs. */
export function normalizeEmbedding(v: Float32Array): Float32Array {
  return l2NormalizeVector(v, 'throw');
}
