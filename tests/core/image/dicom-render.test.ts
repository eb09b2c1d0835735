import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import type { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import { thumbnailPng } from '../../../src/core/image/thumbnail';
import { dicomStub } from '../../helpers/broken-images';
import { type DicomElement, greyDicom, pixelModule, writeDicom } from '../../helpers/dicom-files';
import { pydicomTestFiles } from '../../helpers/pydicom-test-files';

const grey = async (bytes: Uint8Array) => {
  const d = await decodeImage(bytes);
  return Array.from({ length: d.width * d.height }, (_, i) => d.data[i * 3]!);
};
const RAMP = [100, 125, 150, 175, 200];

describe('DICOM display (windowing, rescale, MONOCHROME1)', () => {
  it('applies Window Center/Width with the LINEAR function of PS3.3 C.11.2.1.2.1', async () => {
    const win: [number, string, string][] = [
      [0x00281050, 'DS', '150'],
      [0x00281051, 'DS', '100'],
    ];
    expect(await grey(greyDicom(5, 1, RAMP, win))).toEqual([0, 64, 129, 193, 255]);
    // MONOCHROME1: 0 is white.
    expect(await grey(greyDicom(5, 1, RAMP, [...win, [0x00280004, 'CS', 'MONOCHROME1']]))).toEqual([
      255, 191, 126, 62, 0,
    ]);
  });

  it('applies Rescale Slope/Intercept before the window', async () => {
    // stored 50..100 → 100..200 after slope 2, intercept 0, then the window as above.
    const values = [50, 60, 75, 90, 100];
    const px = await grey(
      greyDicom(5, 1, values, [
        [0x00281050, 'DS', '150'],
        [0x00281051, 'DS', '100'],
        [0x00281052, 'DS', '0'],
        [0x00281053, 'DS', '2'],
      ]),
    );
    expect(px).toEqual([0, 52, 129, 206, 255]);
  });

  it('applies the first VOI LUT Sequence item when there is no window', async () => {
    // 4 entries for stored values 100..103, 8-bit output: a LUT that reverses them.
    const lut: DicomElement = [
      0x00283010,
      'SQ',
      {
        items: [
          [
            [0x00283002, 'US', [4, 100, 8]],
            [0x00283006, 'OW', Uint8Array.from([200, 0, 150, 0, 100, 0, 50, 0])],
          ],
        ],
      },
    ];
    expect(await grey(greyDicom(4, 1, [100, 101, 102, 103], [lut]))).toEqual([200, 150, 100, 50]);
  });

  it('maps PALETTE COLOR through its red, green and blue lookup tables', async () => {
    const px = Buffer.from([0, 1]);
    const d = await decodeImage(
      writeDicom({
        elements: [
          ...pixelModule({
            samples: 1,
            photometric: 'PALETTE COLOR',
            rows: 1,
            columns: 2,
            bits: 8,
          }),
          // 2 entries from 0, 16-bit: index 0 → (255, 0, 0), index 1 → (0, 0, 255)
          [0x00281101, 'US', [2, 0, 16]],
          [0x00281102, 'US', [2, 0, 16]],
          [0x00281103, 'US', [2, 0, 16]],
          [0x00281201, 'OW', Uint8Array.from([0xff, 0xff, 0, 0])],
          [0x00281202, 'OW', Uint8Array.from([0, 0, 0, 0])],
          [0x00281203, 'OW', Uint8Array.from([0, 0, 0xff, 0xff])],
        ],
        pixelData: px,
      }),
    );
    expect([...d.data]).toEqual([255, 0, 0, 0, 0, 255]);
  });

  it('uses the frame’s own min–max without a window', async () => {
    expect(await grey(greyDicom(5, 1, RAMP))).toEqual([0, 64, 128, 191, 255]);
  });

  it('sign-extends signed data by Bits Stored', async () => {
    // 12 bits stored, signed: 0x0800 is -2048, 0x0fff is -1, 0x07ff is 2047; junk in the high
    // bits is ignored. Min–max: -1 lands at 2047/4095 × 255 = 127.47.
    const px = await grey(
      greyDicom(
        3,
        1,
        [0xf800, 0x0fff, 0x07ff],
        [
          [0x00280101, 'US', 12],
          [0x00280102, 'US', 11],
          [0x00280103, 'US', 1],
        ],
      ),
    );
    expect(px).toEqual([0, 127, 255]);
  });

  it('reads planar configuration 1 RGB', async () => {
    const planes = Uint8Array.from([255, 0, /* G */ 0, 255, /* B */ 0, 0]);
    const d = await decodeImage(
      writeDicom({
        elements: [
          ...pixelModule({ samples: 3, photometric: 'RGB', rows: 1, columns: 2, bits: 8 }),
          [0x00280006, 'US', 1],
        ],
        pixelData: planes,
      }),
    );
    expect([...d.data]).toEqual([255, 0, 0, 0, 255, 0]);
  });

  it('refuses more pixels than the limit before decoding any', async () => {
    const big = writeDicom({
      elements: [
        [0x00280010, 'US', 20000],
        [0x00280011, 'US', 20000],
        [0x00280100, 'US', 16],
      ],
      pixelData: new Uint8Array(16),
    });
    await expect(decodeImage(big, { maxPixels: 1e6 })).rejects.toMatchObject({
      reason: 'too_large',
    });
  });

  it('names an unsupported transfer syntax and its UID, and says what to do', async () => {
    const e = (await decodeImage(dicomStub()).catch((x: unknown) => x)) as ImageDecodeError;
    expect(e.reason).toBe('unsupported');
    expect(e.detail).toMatch(
      /MPEG2 Main Profile \/ Main Level \(video\) \(1\.2\.840\.10008\.1\.2\.4\.100\)/,
    );
    expect(e.detail).toMatch(/dcmdjpeg|gdcmconv/);
  });

  it('makes a PNG thumbnail of a DICOM file (for the Preview screen)', async () => {
    const png = await thumbnailPng(path.join(pydicomTestFiles(), 'CT_small.dcm'), 96);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 96, 96]);
    const stats = await sharp(png).stats();
    expect(stats.channels[0]!.max).toBeGreaterThan(200); // windowed, not a black square
  });

  it('decodes a bare data set (no preamble, no file meta) like its Part 10 file, little and big endian', async () => {
    for (const name of ['MR_small.dcm', 'MR_small_bigendian.dcm']) {
      const part10 = readFileSync(path.join(pydicomTestFiles(), name));
      // Preamble (128) + DICM (4) + the (0002,0000) group length element (12) + the file meta.
      const bare = part10.subarray(132 + 12 + part10.readUInt32LE(140));
      const [a, b] = [await decodeImage(part10), await decodeImage(bare)];
      expect(b.format).toBe('dicom');
      expect(b.dicom?.patientId).toBe('4MR1');
      expect(Buffer.from(b.data).equals(Buffer.from(a.data)), name).toBe(true);
    }
  });
});
