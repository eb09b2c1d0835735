import { describe, expect, it } from 'vitest';
import { decodeBmp, readBmpHeader } from '../../../src/core/image/decode-bmp';
import { ImageDecodeError } from '../../../src/core/image/image-decode-error';
import { rgbPixels, writeBmp24 } from '../../helpers/broken-images';

/** Builds a BMP with a 40-byte (or larger) DIB header by hand. */
function bmp(opts: {
  width: number;
  height: number;
  bpp: number;
  compression?: number;
  dib?: number;
  palette?: number[][];
  masks?: number[];
  rows: number[][];
}): Buffer {
  const dib = opts.dib ?? 40;
  const masks = opts.masks ? Buffer.alloc(dib === 40 ? opts.masks.length * 4 : 0) : Buffer.alloc(0);
  const pal = Buffer.alloc((opts.palette?.length ?? 0) * 4);
  opts.palette?.forEach(([r, g, b], i) => pal.set([b!, g!, r!, 0], i * 4));
  const stride = Math.floor((opts.bpp * opts.width + 31) / 32) * 4;
  const pixels = Buffer.alloc(stride * opts.rows.length);
  // rows are given bottom-up (file order) as raw bytes
  opts.rows.forEach((r, i) => pixels.set(r, i * stride));
  const header = Buffer.alloc(14 + dib);
  const offset = 14 + dib + masks.length + pal.length;
  header.write('BM', 0, 'ascii');
  header.writeUInt32LE(offset + pixels.length, 2);
  header.writeUInt32LE(offset, 10);
  header.writeUInt32LE(dib, 14);
  header.writeInt32LE(opts.width, 18);
  header.writeInt32LE(opts.height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(opts.bpp, 28);
  header.writeUInt32LE(opts.compression ?? 0, 30);
  header.writeUInt32LE(opts.palette?.length ?? 0, 46);
  if (opts.masks) {
    if (dib === 40) opts.masks.forEach((m, i) => masks.writeUInt32LE(m, i * 4));
    else opts.masks.forEach((m, i) => header.writeUInt32LE(m, 54 + i * 4));
  }
  return Buffer.concat([header, masks, pal, pixels]);
}

function reason(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ImageDecodeError) return e.reason;
    throw e;
  }
  return 'no error';
}

describe('decodeBmp', () => {
  it('round-trips 24-bit bottom-up and top-down files with odd widths (row padding)', () => {
    const rgb = rgbPixels(5, 3, 77);
    for (const topDown of [false, true]) {
      const out = decodeBmp(writeBmp24(5, 3, rgb, topDown), 1e6);
      expect([out.width, out.height]).toEqual([5, 3]);
      expect(Buffer.from(out.data).equals(rgb)).toBe(true);
    }
  });

  it('decodes 8-bit and 1-bit palettes', () => {
    const pal = [
      [255, 0, 0],
      [0, 0, 255],
    ];
    const eight = decodeBmp(
      bmp({ width: 2, height: 1, bpp: 8, palette: pal, rows: [[1, 0]] }),
      100,
    );
    expect([...eight.data]).toEqual([0, 0, 255, 255, 0, 0]);
    // 1 bit per pixel, most significant bit first: 0b10 → pixel0 = index 1, pixel1 = index 0
    const one = decodeBmp(
      bmp({ width: 2, height: 1, bpp: 1, palette: pal, rows: [[0b1000_0000]] }),
      100,
    );
    expect([...one.data]).toEqual([0, 0, 255, 255, 0, 0]);
  });

  it('decodes 32-bit bitfields and flattens the alpha mask on white', () => {
    // BGRA byte order in memory with masks R=0x00ff0000, G=0x0000ff00, B=0x000000ff, A=0xff000000
    const px = (r: number, g: number, b: number, a: number) => [b, g, r, a];
    const file = bmp({
      width: 2,
      height: 1,
      bpp: 32,
      compression: 6,
      masks: [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000],
      rows: [[...px(10, 20, 30, 255), ...px(0, 0, 0, 0)]],
    });
    expect([...decodeBmp(file, 100).data]).toEqual([10, 20, 30, 255, 255, 255]);
  });

  it('decodes 16-bit 5-5-5', () => {
    // pure red in 555 = 0x7c00, little-endian
    const out = decodeBmp(bmp({ width: 1, height: 1, bpp: 16, rows: [[0x00, 0x7c]] }), 100);
    expect([...out.data]).toEqual([255, 0, 0]);
  });

  it('refuses RLE as unsupported, truncation as corrupt, and a huge declared size as too_large', () => {
    expect(
      reason(() =>
        decodeBmp(
          bmp({
            width: 2,
            height: 1,
            bpp: 8,
            compression: 1,
            palette: [[0, 0, 0]],
            rows: [[0, 0]],
          }),
          100,
        ),
      ),
    ).toBe('unsupported');
    const full = writeBmp24(8, 8, rgbPixels(8, 8));
    expect(reason(() => decodeBmp(full.subarray(0, full.length - 10), 1e6))).toBe('corrupt');
    expect(reason(() => decodeBmp(full, 63))).toBe('too_large');
    expect(reason(() => readBmpHeader(full.subarray(0, 20)))).toBe('corrupt');
  });
});
