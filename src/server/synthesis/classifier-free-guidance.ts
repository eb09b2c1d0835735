/**
 * Classifier-free guidance (Ho & Salimans; diffusers' `noise_uncond + g * (noise_text - noise_uncond)`):
 * the noise prediction pushed away from the unconditional one by the guidance scale.
 */
export function classifierFreeGuidance(
  uncond: Float32Array,
  cond: Float32Array,
  guidance: number,
): Float32Array {
  if (uncond.length !== cond.length) {
    throw new Error(
      `Guidance needs equal halves, got ${uncond.length} unconditional and ${cond.length} conditional values.`,
    );
  }
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) {
    const u = uncond[i]!;
    out[i] = u + guidance * (cond[i]! - u);
  }
  return out;
}

/** diffusers skips the unconditional half when guidance_scale <= 1 (it would give the conditional prediction anyway at 1). */
export function usesGuidance(guidance: number): boolean {
  return guidance > 1;
}
