/**
 * Unit-length copy of a vector (zero stays zero). The probe model is trained on L2-normalised
 * CLIP embeddings, so sites must normalise theirs the same way before predicting.
 */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  if (norm === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}
