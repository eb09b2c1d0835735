import { existsSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../src/core/image/decode-image';

/** One real file per transfer syntax FGL decodes (pydicom's test data, Debian python3-pydicom). */
const FILES: Record<string, string> = {
  'explicit VR LE (CT 128², 16-bit)': 'CT_small.dcm',
  'explicit VR BE (MR 64², 16-bit)': 'MR_small_bigendian.dcm',
  'RLE (MR 64², 16-bit)': 'MR_small_RLE.dcm',
  'JPEG baseline (RGB 100²)': 'SC_rgb_jpeg_dcmtk.dcm',
  'JPEG lossless (RGB 100²)': 'SC_rgb_jpeg_gdcm.dcm',
  'JPEG-LS lossless (MR 64², 16-bit)': 'MR_small_jpeg_ls_lossless.dcm',
  'JPEG 2000 lossless (MR 64², 16-bit)': 'MR_small_jp2klossless.dcm',
  'JPEG 2000 (CT 512², 16-bit)': '693_J2KI.dcm',
  'deflated (OT 512², 8-bit)': 'image_dfl.dcm',
};

/**
 * DICOM decode + windowing + resize, per transfer syntax: images per second, sequential, from
 * the file as the scan and the CLIP stage read it. Null when pydicom's test files are missing.
 */
export async function dicomDecodeSection(
  repeat: number,
  shortSide: number,
): Promise<Record<string, { imagesPerSec: number; msPerImage: number }> | null> {
  const dir =
    process.env.FGL_PYDICOM_TEST_FILES ?? '/usr/lib/python3/dist-packages/pydicom/data/test_files';
  if (!existsSync(path.join(dir, 'CT_small.dcm'))) return null;
  const out: Record<string, { imagesPerSec: number; msPerImage: number }> = {};
  for (const [name, file] of Object.entries(FILES)) {
    const f = path.join(dir, file);
    await decodeImage(f, { resizeShortSide: shortSide }); // warm-up: wasm codec init, sharp pool
    const t = performance.now();
    for (let i = 0; i < repeat; i++) await decodeImage(f, { resizeShortSide: shortSide });
    const ms = performance.now() - t;
    out[name] = {
      imagesPerSec: Math.round(((repeat * 1000) / ms) * 10) / 10,
      msPerImage: Math.round((ms / repeat) * 100) / 100,
    };
  }
  return out;
}
