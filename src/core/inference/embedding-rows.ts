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

/** v / ‖v‖ in place; a zero vector (which has no direction) is an error, not NaNs. */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (!(norm > 0) || !Number.isFinite(norm))
    throw new Error(`Cannot normalise an embedding with norm ${norm}.`);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}
