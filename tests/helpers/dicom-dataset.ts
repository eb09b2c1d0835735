import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pydicomTestFiles } from './pydicom-test-files';

/**
 * A class-folder dataset of pydicom's real test files: decodable images in `ct`, `mr` and
 * `colour` (some named without extension, as PACS exports are), plus objects FGL must skip with a
 * reason. Returns what each file must come out as.
 */
export const DICOM_DATASET: Record<string, { src: string; reason?: string; detail?: RegExp }> = {
  'ct/CT_small.dcm': { src: 'CT_small.dcm' },
  'ct/693_J2KI': { src: '693_J2KI.dcm' },
  'ct/J2K_pixelrep_mismatch.dcm': { src: 'J2K_pixelrep_mismatch.dcm' },
  'ct/JPGExtended.dcm': {
    src: 'JPGExtended.dcm',
    reason: 'unsupported',
    detail: /JPEG Extended \(Process 2 & 4\) \(1\.2\.840\.10008\.1\.2\.4\.51\) at 12 bits/,
  },
  'ct/UN_sequence.dcm': {
    src: 'UN_sequence.dcm',
    reason: 'not_image',
    detail: /without pixel data/,
  },
  'mr/MR_small.dcm': { src: 'MR_small.dcm' },
  'mr/MR_small_RLE': { src: 'MR_small_RLE.dcm' },
  'mr/MR_small_bigendian.dcm': { src: 'MR_small_bigendian.dcm' },
  'mr/MR_small_implicit.dcm': { src: 'MR_small_implicit.dcm' },
  'mr/MR_small_jp2klossless.dcm': { src: 'MR_small_jp2klossless.dcm' },
  'mr/MR_small_jpeg_ls_lossless': { src: 'MR_small_jpeg_ls_lossless.dcm' },
  'mr/MR_small_padded.dcm': { src: 'MR_small_padded.dcm' },
  'mr/MR_truncated.dcm': { src: 'MR_truncated.dcm', reason: 'corrupt', detail: /truncated/ },
  'mr/JPEG2000.dcm': { src: 'JPEG2000.dcm' },
  'colour/ExplVR_BigEnd.dcm': { src: 'ExplVR_BigEnd.dcm' },
  'colour/SC_rgb_jpeg_dcmtk.dcm': { src: 'SC_rgb_jpeg_dcmtk.dcm' },
  'colour/SC_rgb_jpeg_gdcm.dcm': { src: 'SC_rgb_jpeg_gdcm.dcm' },
  'colour/SC_rgb_rle_2frame.dcm': { src: 'SC_rgb_rle_2frame.dcm' },
  'colour/SC_rgb_rle_16bit.dcm': { src: 'SC_rgb_rle_16bit.dcm' },
  'colour/SC_ybr_full_422_uncompressed.dcm': { src: 'SC_ybr_full_422_uncompressed.dcm' },
  'colour/SC_rgb_gdcm_KY.dcm': { src: 'SC_rgb_gdcm_KY.dcm' },
  'colour/image_dfl.dcm': { src: 'image_dfl.dcm' },
  'colour/test-SR.dcm': { src: 'test-SR.dcm', reason: 'not_image', detail: /Comprehensive SR/ },
  'colour/rtdose.dcm': { src: 'rtdose.dcm', reason: 'not_image', detail: /RT Dose/ },
  'colour/liver_1frame.dcm': {
    src: 'liver_1frame.dcm',
    reason: 'not_image',
    detail: /Segmentation/,
  },
  'colour/rtplan.dcm': { src: 'rtplan.dcm', reason: 'not_image', detail: /RT Plan/ },
  'colour/no_meta.dcm': { src: 'no_meta.dcm', reason: 'not_image' },
  // Bare data sets (no preamble, no file meta), as old exports write them.
  'colour/ExplVR_BigEndNoMeta.dcm': {
    src: 'ExplVR_BigEndNoMeta.dcm',
    reason: 'not_image',
    detail: /RT Ion Plan .* without pixel data/,
  },
  'colour/ExplVR_LitEndNoMeta': {
    src: 'ExplVR_LitEndNoMeta.dcm',
    reason: 'not_image',
    detail: /RT Ion Plan .* without pixel data/,
  },
  'colour/rtstruct.dcm': { src: 'rtstruct.dcm', reason: 'not_image', detail: /RT Structure Set/ },
};

/** PatientName / PatientID / StudyInstanceUID values of those files: none may ever leave. */
export const DICOM_IDENTIFIERS = [
  'CompressedSamples^CT1',
  '1CT1',
  '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
  'CompressedSamples^MR1',
  '4MR1',
  '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457',
  'CQ500-CT-310',
  '1.2.276.0.7230010.3.1.2.296485376.1.1521713414.1800996',
  'CompressedSamples^NM1',
  '8NM1',
  'Lestrade^G',
];

export async function buildDicomDataset(dir: string): Promise<void> {
  const src = pydicomTestFiles();
  for (const [rel, f] of Object.entries(DICOM_DATASET)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await copyFile(path.join(src, f.src), path.join(dir, rel));
  }
}
