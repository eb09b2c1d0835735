import type { Rng } from './seeded-random';

/** [y1, x1, y2, x2] in tf.image.cropAndResize's normalised coordinates (0 = first pixel, 1 = last). */
export type CropBox = [number, number, number, number];

export const DEFAULT_CROP_SCALE: readonly [number, number] = [0.08, 1];
export const DEFAULT_CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/**
 * torchvision's RandomResizedCrop.get_params for an H×W image: up to 10 tries at a random area
 * fraction and log-uniform aspect ratio, else the whole image clamped to the ratio range, centred.
 */
export function sampleCropBox(
  rng: Rng,
  height: number,
  width: number,
  scale: readonly [number, number] = DEFAULT_CROP_SCALE,
  ratio: readonly [number, number] = DEFAULT_CROP_RATIO,
): CropBox {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  const toBox = (top: number, left: number, h: number, w: number): CropBox => [
    height > 1 ? top / (height - 1) : 0,
    width > 1 ? left / (width - 1) : 0,
    height > 1 ? (top + h - 1) / (height - 1) : 1,
    width > 1 ? (left + w - 1) / (width - 1) : 1,
  ];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + rng() * (scale[1] - scale[0]));
    const aspect = Math.exp(logRatio[0] + rng() * (logRatio[1] - logRatio[0]));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const top = Math.floor(rng() * (height - h + 1));
      const left = Math.floor(rng() * (width - w + 1));
      return toBox(top, left, h, w);
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return toBox(Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w);
}
