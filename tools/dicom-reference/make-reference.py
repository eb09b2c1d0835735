#!/usr/bin/python3
"""Reference pixel values from pydicom for FGL's DICOM decoder test.

Reads every pydicom test file FGL decodes (Debian python3-pydicom; JPEG-LS and JPEG lossless
need python3-gdcm), takes the frame FGL uses (the middle one, index NumberOfFrames // 2), and
writes for each:
  stored:  the decoded stored values (pydicom's pixel_array): shape, sha256 of the values as
           little-endian int64, min, max, mean
  display: the 8-bit image after the same steps FGL documents (Modality LUT; window centre/width,
           else VOI LUT, else the frame's min-max; MONOCHROME1 inverted; YBR converted to RGB),
           computed with pydicom's apply_modality_lut / apply_voi_lut / convert_color_space:
           mean and a 16x16 grid of sampled pixels.
Run:  /usr/bin/python3 tools/dicom-reference/make-reference.py > tests/fixtures/dicom/pydicom-reference.json
"""
import hashlib
import json
import os
import sys
import warnings

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut, convert_color_space

warnings.simplefilter('ignore')

TEST_DIR = os.path.dirname(get_testdata_file('CT_small.dcm'))

# The files FGL decodes (the others are skipped with a reason; see tests/core/image/dicom-scan).
FILES = [
    '693_J2KI.dcm', 'CT_small.dcm', 'ExplVR_BigEnd.dcm', 'GDCMJ2K_TextGBR.dcm',
    'J2K_pixelrep_mismatch.dcm', 'JPEG2000.dcm', 'MR_small.dcm', 'MR_small_RLE.dcm',
    'MR_small_bigendian.dcm', 'MR_small_expb.dcm', 'MR_small_implicit.dcm',
    'MR_small_jp2klossless.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'MR_small_padded.dcm',
    'SC_jpeg_no_color_transform.dcm', 'SC_jpeg_no_color_transform_2.dcm',
    'SC_rgb_dcmtk_+eb+cr.dcm', 'SC_rgb_dcmtk_+eb+cy+n1.dcm', 'SC_rgb_dcmtk_+eb+cy+n2.dcm',
    'SC_rgb_dcmtk_+eb+cy+np.dcm', 'SC_rgb_dcmtk_+eb+cy+s2.dcm', 'SC_rgb_dcmtk_+eb+cy+s4.dcm',
    'SC_rgb_gdcm_KY.dcm', 'SC_rgb_jpeg_app14_dcmd.dcm', 'SC_rgb_jpeg_dcmd.dcm',
    'SC_rgb_jpeg_dcmtk.dcm', 'SC_rgb_jpeg_gdcm.dcm', 'SC_rgb_jpeg_lossy_gdcm.dcm', 'SC_rgb_rle.dcm',
    'SC_rgb_rle_16bit.dcm', 'SC_rgb_rle_16bit_2frame.dcm', 'SC_rgb_rle_2frame.dcm',
    'SC_rgb_rle_32bit.dcm', 'SC_rgb_rle_32bit_2frame.dcm', 'SC_rgb_small_odd.dcm',
    'SC_rgb_small_odd_jpeg.dcm', 'SC_ybr_full_422_uncompressed.dcm', 'image_dfl.dcm',
    # decoded but left out of datasets (not a picture of the patient): pixels still checked
    'rtdose.dcm', 'rtdose_expb.dcm', 'rtdose_rle.dcm', 'liver_1frame.dcm',
]

GRID = 16


def grid(img):
    h, w = img.shape[:2]
    ys = [min(h - 1, (2 * i + 1) * h // (2 * GRID)) for i in range(GRID)]
    xs = [min(w - 1, (2 * i + 1) * w // (2 * GRID)) for i in range(GRID)]
    return [img[y, x].tolist() if img.ndim == 3 else int(img[y, x]) for y in ys for x in xs]


def display(ds, arr):
    pi = ds.PhotometricInterpretation
    if pi.startswith('MONOCHROME'):
        v = apply_modality_lut(arr, ds).astype('float64')
        if 'WindowCenter' in ds and 'WindowWidth' in ds:
            w = apply_voi_lut(v, ds, prefer_lut=False)
            # apply_windowing's output range: stored range through the rescale (PS3.3 C.11.2.1.2).
            bs = ds.BitsStored
            lo, hi = (0, 2**bs - 1) if ds.PixelRepresentation == 0 else (-(2 ** (bs - 1)), 2 ** (bs - 1) - 1)
            if 'RescaleSlope' in ds and 'RescaleIntercept' in ds:
                lo, hi = lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept), hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            out = (w - lo) / (hi - lo) * 255
        else:
            lo, hi = v.min(), v.max()
            out = (v - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(v)
        out = np.clip(np.round(out), 0, 255).astype(np.uint8)
        if pi == 'MONOCHROME1':
            out = 255 - out
        return out
    rgb = arr
    if ds.BitsStored > 8:
        rgb = np.round(rgb.astype('float64') / (2**ds.BitsStored - 1) * 255)
    if pi in ('YBR_FULL', 'YBR_FULL_422'):
        rgb = convert_color_space(rgb.astype(np.uint8), pi, 'RGB')
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main():
    out = {'pydicom': pydicom.__version__, 'numpy': np.__version__, 'grid': GRID, 'files': {}}
    for name in FILES:
        ds = pydicom.dcmread(os.path.join(TEST_DIR, name))
        arr = ds.pixel_array
        frames = int(ds.get('NumberOfFrames', 1) or 1)
        frame = frames // 2
        if frames > 1:
            arr = arr[frame]
        entry = {
            'frame': frame,
            'frames': frames,
            'photometric': ds.PhotometricInterpretation,
            'stored': {
                'shape': list(arr.shape),
                'sha256': hashlib.sha256(arr.astype('<i8').tobytes()).hexdigest(),
                'min': int(arr.min()),
                'max': int(arr.max()),
                'mean': float(arr.mean()),
            },
        }
        if ds.SOPClassUID not in ('1.2.840.10008.5.1.4.1.1.481.2', '1.2.840.10008.5.1.4.1.1.66.4'):
            d = display(ds, arr)
            entry['display'] = {'mean': float(d.mean()), 'grid': grid(d)}
        out['files'][name] = entry
    # One line per file: readable diffs when a pydicom upgrade changes a value.
    files = out.pop('files')
    head = json.dumps(out)[:-1]
    body = ',\n'.join(f'  {json.dumps(k)}: {json.dumps(v, separators=(",", ":"))}' for k, v in files.items())
    sys.stdout.write(f'{head}, "files": {{\n{body}\n}}}}\n')


if __name__ == '__main__':
    main()
