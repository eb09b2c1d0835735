import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import { pydicomTestFiles } from '../../helpers/pydicom-test-files';
import { recordFigures } from '../reliability-figures';
import { bytesSummary, describeThrown, FUZZ_SEED, fuzzParams, labelled } from './fuzz-support';

/*
 * Hostile DICOM: real files of every transfer syntax FGL decodes (so each codec, wasm included,
 * sees damaged input), cut short, bit-flipped, spliced, or with absurd Rows/Columns. decodeImage
 * must end in an ImageDecodeError or a consistent image within the pixel limit: never another
 * error, never a crash, never an allocation driven by a declared size.
 */

const SEEDS = [
  'MR_small.dcm', // explicit VR little endian
  'MR_small_implicit.dcm',
  'MR_small_bigendian.dcm',
  'MR_small_RLE.dcm',
  'MR_small_jpeg_ls_lossless.dcm',
  'MR_small_jp2klossless.dcm',
  'SC_rgb_jpeg_dcmtk.dcm', // JPEG baseline
  'SC_rgb_jpeg_gdcm.dcm', // JPEG lossless
  'SC_rgb_rle_2frame.dcm',
  'SC_ybr_full_422_uncompressed.dcm',
];
const real = new Map<string, Buffer>();

/** Rewrites the value of every (0028,0010) Rows and (0028,0011) Columns element (explicit or implicit LE). */
function withDeclaredSize(b0: Buffer, rows: number, cols: number): Buffer {
  const b = Buffer.from(b0);
  for (let i = 132; i + 10 < b.length; i++) {
    if (b[i] !== 0x28 || b[i + 1] !== 0x00 || b[i + 3] !== 0x00) continue;
    const el = b[i + 2];
    if (el !== 0x10 && el !== 0x11) continue;
    const explicit = b.toString('latin1', i + 4, i + 6) === 'US';
    const at = explicit ? i + 8 : i + 8;
    const len = explicit ? b.readUInt16LE(i + 6) : b.readUInt32LE(i + 4);
    if (len !== 2) continue;
    b.writeUInt16LE((el === 0x10 ? rows : cols) & 0xffff, at);
  }
  return b;
}

const seed = fc.constantFrom(...SEEDS);
const caseArb = fc
  .oneof(
    fc.tuple(seed, fc.nat()).map(([f, n]) => ({
      kind: 'truncated',
      f,
      bytes: real.get(f)!.subarray(0, 132 + (n % (real.get(f)!.length - 132))),
    })),
    fc
      .tuple(seed, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 7 })), { minLength: 1, maxLength: 8 }))
      .map(([f, flips]) => {
        const b = Buffer.from(real.get(f)!);
        for (const [pos, bit] of flips) {
          const p = 132 + (pos % (b.length - 132));
          b[p] = b[p]! ^ (1 << bit);
        }
        return { kind: 'bitflip', f, bytes: b };
      }),
    fc.tuple(seed, fc.uint8Array({ minLength: 1, maxLength: 512 })).map(([f, junk]) => {
      const b = real.get(f)!;
      const at = Math.floor(b.length / 2);
      return {
        kind: 'spliced',
        f,
        bytes: Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)]),
      };
    }),
    fc
      .tuple(seed, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }))
      .map(([f, r, c]) => ({
        kind: 'declared_size',
        f,
        bytes: withDeclaredSize(real.get(f)!, r, c),
      })),
    fc.uint8Array({ maxLength: 4096 }).map((rest) => ({
      kind: 'preamble+random',
      f: '-',
      bytes: Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from(rest)]),
    })),
  )
  .map((c) =>
    labelled(c, (v) => `${v.kind} ${v.f} (${bytesSummary(v.bytes)}) (FGL_FUZZ_SEED=${FUZZ_SEED})`),
  );

const MAX_PIXELS = 1_000_000;
const stats = { inputs: 0, decoded: 0, refused: new Map<string, number>(), peakRssMb: 0 };

describe('fuzz: DICOM decoder', () => {
  beforeAll(async () => {
    for (const f of SEEDS) real.set(f, await readFile(path.join(pydicomTestFiles(), f)));
  });

  it('turns every hostile DICOM file into an ImageDecodeError or a bounded, consistent decode', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        stats.inputs++;
        try {
          const img = await decodeImage(c.bytes, { maxPixels: MAX_PIXELS, resizeShortSide: 32 });
          stats.decoded++;
          expect(img.data.length).toBe(img.width * img.height * 3);
          expect(img.originalWidth * img.originalHeight).toBeLessThanOrEqual(MAX_PIXELS);
        } catch (e) {
          if (!(e instanceof ImageDecodeError))
            throw new Error(`decodeImage threw ${describeThrown(e)}`);
          stats.refused.set(e.reason, (stats.refused.get(e.reason) ?? 0) + 1);
        } finally {
          stats.peakRssMb = Math.max(stats.peakRssMb, process.memoryUsage().rss / 2 ** 20);
        }
      }),
      fuzzParams(1500),
    );
    recordFigures('fuzz', 'DICOM decoder', {
      inputs: stats.inputs,
      seed: FUZZ_SEED,
      decoded: stats.decoded,
      refused: [...stats.refused]
        .sort()
        .map(([k, n]) => `${k}×${n}`)
        .join(' '),
      peakRssMb: Math.round(stats.peakRssMb),
    });
    expect(stats.refused.get('corrupt') ?? 0).toBeGreaterThan(0);
    expect(stats.refused.get('too_large') ?? 0).toBeGreaterThan(0);
  }, 300_000);
});
