/**
 * One VAE output image (CHW, 3 channels, values in about [-1, 1]) as 8-bit RGB HWC, as diffusers'
 * postprocess does: (x / 2 + 0.5) clamped to [0, 1], then round(x * 255).
 */
export function decodedToRgb(chw: Float32Array, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (chw.length !== 3 * plane) {
    throw new Error(`Decoded image has ${chw.length} values, expected 3 × ${height} × ${width} = ${3 * plane}.`);
  }
  const rgb = new Uint8Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    for (let p = 0; p < plane; p++) {
      const v = chw[base + p]! / 2 + 0.5;
      // NaN (a broken fp16 run) becomes 0 rather than poisoning the byte cast.
      rgb[p * 3 + c] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
    }
  }
  return rgb;
}
