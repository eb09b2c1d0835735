import sharp from 'sharp';
import { type DecodeImageOptions, decodeImage } from './decode-image';

/**
 * A square PNG thumbnail (centre crop) of any image FGL reads, DICOM included (windowed as for
 * the encoders), for display on this computer only.
 */
export async function thumbnailPng(
  file: string,
  side: number,
  opts: Pick<DecodeImageOptions, 'maxPixels' | 'signal'> = {},
): Promise<Buffer> {
  const d = await decodeImage(file, { ...opts, resizeShortSide: side });
  return sharp(d.data, { raw: { width: d.width, height: d.height, channels: 3 } })
    .resize(side, side, { fit: 'cover' })
    .png()
    .toBuffer();
}
