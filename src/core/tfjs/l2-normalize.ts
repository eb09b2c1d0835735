/**
 * The one L2 normalisation: a unit-length copy of a vector (v / ‖v‖, summed in float64, stored
 * float32). The probe model is trained on L2-normalised CLIP embeddings (server training), so
 * sites must normalise theirs the same way before predicting (evaluation); CLIP adapters
 * normalise each embedding they return (`clip-model.ts`), and prepare normalises the mean of a
 * row's prompt embeddings (`prepare-package.ts`).
 *
 * A vector with no direction (‖v‖ = 0) is the one case callers differ on, so they say which:
 * - `'zero'`: the zero vector stays zero (probe features, evaluation, and a row whose prompt
 *   embeddings cancel out, which then resembles nothing in singling-out). `l2Normalize`.
 * - `'throw'`: an error (a model output with no direction is a broken model, and NaNs must not
 *   flow on). This mode also refuses a non-finite norm. `normalizeEmbedding` in
 *   `core/inference/embedding-rows.ts`.
 */
export function l2NormalizeVector(v: Float32Array, onZero: 'zero' | 'throw'): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (onZero === 'throw' && (!(norm > 0) || !Number.isFinite(norm)))
    throw new Error(`Cannot normalise an embedding with norm ${norm}.`);
  const out = new Float32Array(v.length);
  if (norm === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

/** `l2NormalizeVector(v, 'zero')`, with one parameter so it can be passed to `.map`. */
export function l2Normalize(v: Float32Array): Float32Array {
  return l2NormalizeVector(v, 'zero');
}
