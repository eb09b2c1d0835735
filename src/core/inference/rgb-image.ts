import { RawImage } from '@huggingface/transformers';

/** Interleaved 8-bit RGB pixels, row-major (what sharp gives with `.removeAlpha().raw()`). */
export type RgbImage = { data: Uint8Array; width: number; height: number; channels: 3 };

export function toRawImage(img: RgbImage): RawImage {
  if (img.channels !== 3 || img.data.length !== img.width * img.height * 3) {
    throw new Error(
      `Image buffer has ${img.data.length} bytes and ${img.channels} channels, expected ${img.width}×${img.height}×3 RGB.`,
    );
  }
  return new RawImage(img.data, img.width, img.height, 3);
}
