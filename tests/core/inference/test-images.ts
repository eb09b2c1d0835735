import type { RgbImage } from '../../../src/core/inference/rgb-image';

/** A solid-colour RGB image with a faint diagonal gradient, so it is not perfectly flat. */
export function solidImage(
  rgb: readonly [number, number, number],
  width = 64,
  height = 48,
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const shade = (x + y) % 8;
      data[i] = Math.min(255, rgb[0] + shade);
      data[i + 1] = Math.min(255, rgb[1] + shade);
      data[i + 2] = Math.min(255, rgb[2] + shade);
    }
  }
  return { data, width, height, channels: 3 };
}
