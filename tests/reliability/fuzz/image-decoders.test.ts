import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/core/image/decode-image';
import { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import {
  bombPng,
  encodeImage,
  rgbPixels,
  twoFrameGif,
  writeBmp24,
} from '../../helpers/broken-images';
import { recordFigures } from '../reliability-figures';
import { bytesSummary, describeThrown, FUZZ_SEED, fuzzParams, labelled } from './fuzz-support';

/*
 * Hostile image bytes: random content behind each accepted format's magic bytes, real images cut
 * short or bit-flipped, and headers that declare absurd sizes. decodeImage must end in an
 * ImageDecodeError (or a consistent decoded image within the pixel limit) — never another
 * error, never a crash of the process, and never an allocation driven by a declared size.
 */

type Fmt = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'bmp';
const real = new Map<Fmt, Buffer>();
let dir: string;

const MAGIC: Record<Fmt, number[][]> = {
  jpeg: [
    [0xff, 0xd8, 0xff],
    [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00],
    [0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08],
  ],
  png: [
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52],
  ],
  gif: [[...Buffer.from('GIF89a')], [...Buffer.from('GIF87a')]],
  webp: [
    [...Buffer.from('RIFF'), 0xff, 0xff, 0, 0, ...Buffer.from('WEBPVP8 ')],
    [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBPVP8L')],
    [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBPVP8X')],
  ],
  tiff: [
    [0x49, 0x49, 0x2a, 0x00],
    [0x4d, 0x4d, 0x00, 0x2a],
    [0x49, 0x49, 0x2b, 0x00, 0x08, 0x00, 0x00, 0x00],
  ],
  bmp: [
    [0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0],
    [0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 26, 0, 0, 0, 12, 0, 0, 0],
    [0x42, 0x4d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 124, 0, 0, 0],
  ],
};
const FORMATS = Object.keys(MAGIC) as Fmt[];

/** A PNG chunk with a correct CRC, so the decoder gets past the checksum to the size check. */
function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Rewrite the declared width/height of a real image (checksums fixed where the format has one). */
function withDeclaredSize(fmt: Fmt, w: number, h: number): Buffer {
  const b = Buffer.from(real.get(fmt)!);
  switch (fmt) {
    case 'png': {
      // IHDR is the first chunk: 8 signature + 4 length + 4 type, then width, height.
      const ihdr = Buffer.from(b.subarray(16, 29));
      ihdr.writeUInt32BE(w >>> 0, 0);
      ihdr.writeUInt32BE(h >>> 0, 4);
      return Buffer.concat([b.subarray(0, 8), pngChunk('IHDR', ihdr), b.subarray(33)]);
    }
    case 'gif':
      b.writeUInt16LE(w & 0xffff, 6);
      b.writeUInt16LE(h & 0xffff, 8);
      return b;
    case 'bmp':
      b.writeInt32LE(w | 0, 18);
      b.writeInt32LE(h | 0, 22);
      return b;
    case 'jpeg': {
      // The SOFn marker holds height, then width (16 bits each).
      for (let i = 2; i + 9 < b.length; i++) {
        if (b[i] === 0xff && b[i + 1]! >= 0xc0 && b[i + 1]! <= 0xc3) {
          b.writeUInt16BE(h & 0xffff, i + 5);
          b.writeUInt16BE(w & 0xffff, i + 7);
          break;
        }
      }
      return b;
    }
    case 'webp': {
      // Lossy VP8: 14-bit width/height after the 3-byte start code at chunk offset 20+6.
      const i = b.indexOf('VP8 ');
      if (i >= 0) {
        b.writeUInt16LE(w & 0x3fff, i + 14);
        b.writeUInt16LE(h & 0x3fff, i + 16);
      }
      return b;
    }
    case 'tiff': {
      // Patch ImageWidth (256) and ImageLength (257) in the first IFD.
      const le = b[0] === 0x49;
      const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
      const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
      const ifd = u32(4);
      const n = u16(ifd);
      for (let k = 0; k < n; k++) {
        const e = ifd + 2 + k * 12;
        const tag = u16(e);
        const type = u16(e + 2);
        if (tag !== 256 && tag !== 257) continue;
        const v = tag === 256 ? w : h;
        if (type === 3 && le) b.writeUInt16LE(v & 0xffff, e + 8);
        else if (type === 3) b.writeUInt16BE(v & 0xffff, e + 8);
        else if (le) b.writeUInt32LE(v >>> 0, e + 8);
        else b.writeUInt32BE(v >>> 0, e + 8);
      }
      return b;
    }
  }
}

const fmt = fc.constantFrom(...FORMATS);
const absurd = fc.oneof(
  fc.constantFrom(0, 1, 65535, 16383, 0x7fffffff, 0xffffffff, 0x80000000, -1, 100_000, 1_000_000),
  fc.integer({ min: 0, max: 0xffffffff }),
);

type Case = { kind: string; fmt: Fmt; bytes: Buffer; maxPixels?: number; viaFile: boolean };

const rawCase: fc.Arbitrary<Omit<Case, 'viaFile'>> = fc.oneof(
  // Random bytes behind a valid magic prefix.
  fmt.chain((f) =>
    fc
      .tuple(fc.constantFrom(...MAGIC[f]), fc.uint8Array({ maxLength: 4096 }))
      .map(([magic, rest]) => ({
        kind: 'magic+random',
        fmt: f,
        bytes: Buffer.concat([Buffer.from(magic), Buffer.from(rest)]),
      })),
  ),
  // A real image cut anywhere.
  fc
    .tuple(fmt, fc.nat())
    .map(([f, n]) => ({
      kind: 'truncated',
      fmt: f,
      bytes: real.get(f)!.subarray(0, n % real.get(f)!.length),
    })),
  // A real image with a few bits flipped.
  fc
    .tuple(fmt, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 7 })), { minLength: 1, maxLength: 6 }))
    .map(([f, flips]) => {
      const b = Buffer.from(real.get(f)!);
      for (const [pos, bit] of flips) b[pos % b.length] = b[pos % b.length]! ^ (1 << bit);
      return { kind: 'bitflip', fmt: f, bytes: b };
    }),
  // A real image whose header declares an absurd size (sometimes under a small pixel limit).
  fc
    .tuple(fmt, absurd, absurd, fc.constantFrom(undefined, 10_000, 1_000_000))
    .map(([f, w, h, maxPixels]) => ({
      kind: 'declared_size',
      fmt: f,
      bytes: withDeclaredSize(f, w, h),
      ...(maxPixels ? { maxPixels } : {}),
    })),
  // A real image with junk appended or spliced into the middle.
  fc
    .tuple(fmt, fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.boolean())
    .map(([f, junk, middle]) => {
      const b = real.get(f)!;
      const at = middle ? Math.floor(b.length / 2) : b.length;
      return {
        kind: middle ? 'spliced' : 'appended',
        fmt: f,
        bytes: Buffer.concat([b.subarray(0, at), Buffer.from(junk), b.subarray(at)]),
      };
    }),
);

const caseArb = fc
  .tuple(rawCase, fc.nat({ max: 9 }))
  .map(([c, r]) =>
    labelled(
      { ...c, viaFile: r === 0 } as Case,
      (v) =>
        `${v.kind} ${v.fmt} (${bytesSummary(v.bytes)}) maxPixels=${v.maxPixels ?? 'default'} viaFile=${v.viaFile} (FGL_FUZZ_SEED=${FUZZ_SEED})`,
    ),
  );

const stats = {
  inputs: 0,
  failures: 0,
  decoded: 0,
  refused: new Map<string, number>(),
  viaFile: 0,
  peakRssMb: 0,
};
let fileNo = 0;

async function check(c: Case): Promise<void> {
  stats.inputs++;
  let input: string | Uint8Array = c.bytes;
  if (c.viaFile) {
    stats.viaFile++;
    input = path.join(dir, `f${fileNo++}.${c.fmt === 'jpeg' ? 'jpg' : c.fmt}`);
    await writeFile(input, c.bytes);
  }
  const maxPixels = c.maxPixels ?? 100e6;
  try {
    const img = await decodeImage(input, {
      ...(c.maxPixels ? { maxPixels: c.maxPixels } : {}),
      ...(c.fmt === 'bmp' ? {} : { resizeShortSide: 64 }),
    });
    stats.decoded++;
    expect(img.channels).toBe(3);
    expect(img.data.length).toBe(img.width * img.height * 3);
    expect(img.width).toBeGreaterThan(0);
    expect(img.height).toBeGreaterThan(0);
    expect(img.originalWidth * img.originalHeight).toBeLessThanOrEqual(maxPixels);
  } catch (e) {
    if (!(e instanceof ImageDecodeError)) {
      stats.failures++;
      throw new Error(`decodeImage threw ${describeThrown(e)}`);
    }
    stats.refused.set(e.reason, (stats.refused.get(e.reason) ?? 0) + 1);
  } finally {
    stats.peakRssMb = Math.max(stats.peakRssMb, process.memoryUsage().rss / 2 ** 20);
    if (typeof input === 'string') await rm(input, { force: true });
  }
}

describe('fuzz: image decoders', () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-fuzz-images-'));
    for (const f of ['jpeg', 'png', 'webp', 'tiff'] as const)
      real.set(f, await encodeImage(f, 24, 16, 7));
    real.set('gif', await twoFrameGif(24, 16, [10, 20, 30], [200, 100, 50]));
    real.set('bmp', writeBmp24(24, 16, rgbPixels(24, 16, 3)));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    recordFigures('fuzz', 'image decoders', {
      inputs: stats.inputs,
      failures: stats.failures,
      seed: FUZZ_SEED,
      decoded: stats.decoded,
      viaFile: stats.viaFile,
      refused: [...stats.refused]
        .sort()
        .map(([k, n]) => `${k}×${n}`)
        .join(' '),
      peakRssMb: Math.round(stats.peakRssMb),
    });
  });

  it('turns every hostile image into an ImageDecodeError or a bounded, consistent decode', async () => {
    await fc.assert(fc.asyncProperty(caseArb, check), fuzzParams(2500));
    expect(stats.refused.get('corrupt') ?? 0).toBeGreaterThan(0);
    expect(stats.refused.get('too_large') ?? 0).toBeGreaterThan(0);
  }, 180_000);

  it('refuses absurd declared sizes before allocating (a 900-Mpx PNG bomb, 2³¹-pixel headers)', async () => {
    const before = process.memoryUsage().rss;
    for (const bytes of [
      bombPng(30_000),
      withDeclaredSize('bmp', 0x7fffffff, 0x7fffffff),
      withDeclaredSize('png', 0x7fffffff, 0x7fffffff),
      withDeclaredSize('tiff', 0xffffffff, 0xffffffff),
    ]) {
      stats.inputs++;
      const err = await decodeImage(bytes).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, bytesSummary(bytes)).toBeInstanceOf(ImageDecodeError);
      expect(['too_large', 'corrupt']).toContain((err as ImageDecodeError).reason);
    }
    // Decoding 900 Mpx as RGB would take 2.7 GB; refusing it must not cost anywhere near that.
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 2 ** 20);
  });
});
