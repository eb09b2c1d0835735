/**
 * Singling-out test: does an outgoing row point at a few specific local images rather than
 * at a crowd? For each row we take its query vector in CLIP space (the CLIP text embedding
 * of its prompt when there is one, else the mean CLIP image embedding of its members), rank
 * all local images by cosine similarity, and compare the nearest with the k-th nearest.
 *
 * Ratio = (1 + s₁) / (1 + s_k), with s the cosine similarity. Why shift by 1: cosine lies in
 * [−1, 1], and a plain s₁/s_k flips sign or explodes when s_k <= 0 (common for CLIP text-image
 * similarities, which sit near 0.2–0.3); 1 + s lies in [0, 2], so the ratio is always defined,
 * is 1 when the k nearest are equally close, and grows as the nearest stands out.
 * With s >= 0 the shifted ratio is at most 2, so a policy threshold >= 2 only blocks rows
 * whose k-th neighbour is anti-similar.
 */
import type { PrivacyPolicy } from '../../shared/study';

export interface SinglingOutRow {
  /** CLIP text embedding of the row's prompt, when the row has text. */
  text?: Float32Array | null;
  /** Mean CLIP image embedding of the row's members (used when there is no text). */
  centroid: Float32Array;
}

export interface SinglingOutResult {
  /** (1 + s₁)/(1 + s_k); Infinity when 1 + s_k = 0 < 1 + s₁. */
  ratio: number;
  /** Cosine similarity to the nearest local image. */
  nearest: number;
  /** Cosine similarity to the k-th nearest local image (NaN when there are fewer than k images). */
  kth: number;
  /** Local index of the nearest image; local only (for the preview), never shared. */
  nearestIndex: number;
  blocked: boolean;
  reason: string | null;
}

function cosine(a: Float32Array, b: Float32Array, normA: number): number {
  let dot = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    nb += b[i]! * b[i]!;
  }
  const denom = normA * Math.sqrt(nb);
  return denom > 0 ? dot / denom : 0; // a zero vector resembles nothing
}

/**
 * The cosine of `query` to its nearest vector and to its k-th nearest (ties by index), and the
 * ratio (1 + s₁)/(1 + s_k) both singling-out tests compare with the study's threshold. With fewer
 * than k vectors `kth` and `ratio` are NaN (the callers block such rows).
 */
function nearestVsKth(
  query: Float32Array,
  vectors: readonly Float32Array[],
  k: number,
): { nearest: number; nearestIndex: number; kth: number; ratio: number } {
  let qn = 0;
  for (let i = 0; i < query.length; i++) qn += query[i]! * query[i]!;
  qn = Math.sqrt(qn);
  const sims = vectors.map((v, i) => ({ i, s: cosine(query, v, qn) })).sort((a, b) => b.s - a.s || a.i - b.i);
  const nearest = sims[0]?.s ?? NaN;
  const nearestIndex = sims[0]?.i ?? -1;
  if (sims.length < k) return { nearest, nearestIndex, kth: NaN, ratio: NaN };
  const kth = sims[k - 1]!.s;
  const ratio = 1 + kth > 0 ? (1 + nearest) / (1 + kth) : 1 + nearest > 0 ? Infinity : 1;
  return { nearest, nearestIndex, kth, ratio };
}

/** Run the singling-out test on every row against all local image CLIP embeddings. */
export function checkSinglingOut(
  rows: readonly SinglingOutRow[],
  images: readonly Float32Array[],
  policy: Pick<PrivacyPolicy, 'k' | 'singlingOutRatio'>,
): SinglingOutResult[] {
  const k = policy.k;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`k must be an integer >= 1, got ${k}`);
  const threshold = policy.singlingOutRatio;
  return rows.map((row, r) => {
    const query = row.text ?? row.centroid;
    for (const img of images)
      if (img.length !== query.length)
        throw new Error(
          `row ${r}: query has ${query.length} values but image embeddings have ${img.length}; use the same CLIP model for text and images`,
        );
    const { nearest, nearestIndex, kth, ratio } = nearestVsKth(query, images, k);
    // Why: with fewer than k local images no row can hide among k, so nothing passes.
    if (images.length < k)
      return {
        ratio: NaN,
        nearest,
        kth: NaN,
        nearestIndex,
        blocked: true,
        reason: `only ${images.length} local image(s), fewer than k = ${k}`,
      };
    // Why: a nearest image much closer than the k-th means the row describes that image, not a group.
    const blocked = ratio > threshold;
    const reason = blocked
      ? `row resembles one image far more than its ${k}-th nearest: (1+${nearest.toFixed(3)})/(1+${kth.toFixed(3)}) = ${ratio.toFixed(3)} > ${threshold}`
      : null;
    return { ratio, nearest, kth, nearestIndex, blocked, reason };
  });
}

/**
 * Singling-out on what is sent: does the row's released vector (the mean of its units' vectors,
 * duplicates already collapsed into units) sit much closer to one unit than to its k-th nearest?
 * Same ratio as above, (1 + s₁)/(1 + s_k) with s the cosine between the released mean and each
 * unit's vector, so the study's one threshold applies. Identical units (class prompts) give 1.
 */
export function checkReleasedVector(
  released: Float32Array,
  unitVectors: readonly Float32Array[],
  policy: Pick<PrivacyPolicy, 'k' | 'singlingOutRatio'>,
): SinglingOutResult {
  const k = policy.k;
  const { nearest, nearestIndex, kth, ratio } = nearestVsKth(released, unitVectors, k);
  if (unitVectors.length < k)
    return {
      ratio: NaN,
      nearest,
      kth: NaN,
      nearestIndex,
      blocked: true,
      reason: `only ${unitVectors.length} distinct patient(s)/picture(s), fewer than k = ${k}`,
    };
  const blocked = ratio > policy.singlingOutRatio;
  return {
    ratio,
    nearest,
    kth,
    nearestIndex,
    blocked,
    reason: blocked
      ? `the vector sent is dominated by one patient/picture: similarity to it ${nearest.toFixed(3)} vs ${kth.toFixed(3)} to the ${k}-th nearest, ratio ${ratio.toFixed(3)} > ${policy.singlingOutRatio}. Use a larger k, class aggregation, or differential privacy.`
      : null,
  };
}
