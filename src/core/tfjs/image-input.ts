import type { Tf } from './tfjs-backend';

/** An 8-bit RGB image, row-major HWC (what sharp's `.removeAlpha().raw()` gives). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** torchvision's ImageNet statistics, on pixels scaled to [0, 1]. */
export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/** The paper's test transform resizes to 256 then crops 224; the same ratio for other sizes. */
export function resizeSideFor(size: number): number {
  return Math.round((size * 256) / 224);
}

export function checkRgbImage(image: RgbImage, what = 'image'): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
    throw new Error(
      `${what} has size ${width}x${height}; expected positive integer width and height.`,
    );
  if (data.length !== width * height * 3)
    throw new Error(
      `${what} has ${data.length} bytes but ${width}x${height} RGB needs ${width * height * 3}; pass raw HWC RGB without alpha.`,
    );
}

/**
 * Resizes the shorter side to `side` (bilinear, half-pixel centres like PIL/torchvision) and
 * centre-crops a `crop`×`crop` square. Returns whole 0..255 values, HWC: rounded like PIL's 8-bit
 * resize in the paper's pipeline, so a server can keep them as bytes and reproduce this exactly.
 */
export function resizeAndCenterCrop(
  tf: Tf,
  image: RgbImage,
  side: number,
  crop: number,
): Float32Array {
  checkRgbImage(image);
  if (crop > side) throw new Error(`Crop ${crop} is larger than the resized side ${side}.`);
  const scale = side / Math.min(image.width, image.height);
  const h = Math.max(side, Math.round(image.height * scale));
  const w = Math.max(side, Math.round(image.width * scale));
  return tf.tidy(() => {
    const img = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32').toFloat();
    const resized = tf.image.resizeBilinear(img, [h, w], false, true);
    const top = Math.floor((h - crop) / 2);
    const left = Math.floor((w - crop) / 2);
    return resized
      .slice([top, left, 0], [crop, crop, 3])
      .clipByValue(0, 255)
      .round()
      .dataSync() as Float32Array;
  });
}

/** In place: 0..255 HWC pixels → (x/255 − mean) / std per channel. */
export function normalizeImagenet(pixels: Float32Array): Float32Array {
  for (let i = 0; i < pixels.length; i++) {
    const c = i % 3;
    pixels[i] = (pixels[i]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
  }
  return pixels;
}

/** The evaluation transform for a `cnn` model of input size `size`: resize, centre crop, normalise. */
export function imageToModelInput(tf: Tf, image: RgbImage, size: number): Float32Array {
  return normalizeImagenet(resizeAndCenterCrop(tf, image, resizeSideFor(size), size));
}
