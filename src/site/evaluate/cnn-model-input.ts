import type { ModelManifest } from '../../shared/model-manifest';
import { IMAGENET_MEAN, IMAGENET_STD, type RgbImage, resizeAndCenterCrop, resizeSideFor } from '../../core/tfjs/image-input';
import type { Tf } from '../../core/tfjs/tfjs-backend';

/**
 * A `cnn` model's input for one image, as its manifest says: shorter side to size·256/224,
 * centre crop size×size, pixels to [0, 1], then (x − mean) / std per channel when `normalize`
 * (ImageNet statistics when the manifest names none). The server's validation transform is the same.
 */
export function cnnModelInput(tf: Tf, image: RgbImage, pre: ModelManifest['preprocessing'], size: number): Float32Array {
  const px = resizeAndCenterCrop(tf, image, resizeSideFor(size), size);
  const mean = pre.mean ?? IMAGENET_MEAN;
  const std = pre.std ?? IMAGENET_STD;
  for (let i = 0; i < px.length; i++) {
    const c = i % 3;
    const x = px[i]! / 255;
    px[i] = pre.normalize ? (x - mean[c]!) / std[c]! : x;
  }
  return px;
}
