/**
 * One VAE output image (CHW, 3 channels, values in about [-1, 1]) as 8-bit RGB HWC, as diffusers'
 * postprocess does: (x / 2 + 0.5) clamped to [0, 1], times 255, rounded half to even (numpy's round).
 */
export function decodedToRgb(chw: Float32Array, height: number, width: number): Uint8Array {
  const plane = height * width;
  if (chw.length !== 3 * plane) {
    throw new Error(
      `Decoded image has ${chw.length} values, expected 3 × ${height} × ${width} = ${3 * plane}.`,
    );
  }
  // A clamped array does the clamp and the half-to-even rounding natively (and maps NaN to 0).
  const rgb = new Uint8ClampedArray(3 * plane);
  for (let p = 0, o = 0; p < plane; p++, o += 3) {
    rgb[o] = chw[p]! * 127.5 + 127.5;
    rgb[o + 1] = chw[plane + p]! * 127.5 + 127.5;
    rgb[o + 2] = chw[2 * plane + p]! * 127.5 + 127.5;
  }
  return new Uint8Array(rgb.buffer);
}
