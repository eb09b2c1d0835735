/**
 * Vocabulary prompts: per image, the controlled-vocabulary phrases whose CLIP text embedding is
 * most similar to the image's CLIP embedding. Only study-provided phrases can appear, so no free
 * text written at the site can leave it.
 */
export function topVocabulary(
  image: Float32Array,
  phraseEmbeddings: readonly Float32Array[],
  phrases: readonly string[],
  top: number,
): { phrase: string; similarity: number }[] {
  if (phraseEmbeddings.length !== phrases.length) throw new Error('one embedding per vocabulary phrase is required');
  const scored = phrases.map((phrase, i) => ({ phrase, similarity: dot(image, phraseEmbeddings[i]!) }));
  scored.sort((a, b) => b.similarity - a.similarity || a.phrase.localeCompare(b.phrase));
  return scored.slice(0, Math.max(0, top));
}

function dot(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`embedding sizes differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
