import { ImageDecodeError } from './image-decode-error';

/** What a BMP header says; enough to check the pixel limit before reading pixel data. */
export type BmpHeader = {
  width: number;
  height: number;
  topDown: boolean;
  bitsPerPixel: number;
  /** 0 = BI_RGB, 3 = BI_BITFIELDS, 6 = BI_ALPHABITFIELDS (the only ones we decode). */
  compression: number;
  pixelOffset: number;
  paletteOffset: number;
  paletteEntries: number;
  paletteEntrySize: 3 | 4;
  masks: { r: number; g: number; b: number; a: number };
};

const CONVERT_HINT = 'Convert the file to PNG (e.g. `magick in.bmp out.png`) and scan again';

function corrupt(what: string): ImageDecodeError {
  return new ImageDecodeError(
    'corrupt',
    `BMP is damaged: ${what}`,
    'Re-export the image from its source, or remove it',
  );
}

/**
 * Parses the BMP file and DIB headers (sharp's prebuilt libvips has no BMP loader, so we decode
 * the common uncompressed variants ourselves). Throws ImageDecodeError.
 */
export function readBmpHeader(b: Uint8Array): BmpHeader {
  if (b.length < 26 || b[0] !== 0x42 || b[1] !== 0x4d)
    throw corrupt('header is shorter than 26 bytes');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pixelOffset = v.getUint32(10, true);
  const dib = v.getUint32(14, true);
  let width: number, rawHeight: number, bitsPerPixel: number, compression: number, clrUsed: number;
  let paletteEntrySize: 3 | 4;
  if (dib === 12) {
    width = v.getUint16(18, true);
    rawHeight = v.getInt16(20, true);
    bitsPerPixel = v.getUint16(24, true);
    compression = 0;
    clrUsed = 0;
    paletteEntrySize = 3;
  } else {
    if (dib < 40 || b.length < 14 + 40)
      throw corrupt(`DIB header of ${dib} bytes is too short or cut off`);
    width = v.getInt32(18, true);
    rawHeight = v.getInt32(22, true);
    bitsPerPixel = v.getUint16(28, true);
    compression = v.getUint32(30, true);
    clrUsed = v.getUint32(46, true);
    paletteEntrySize = 4;
  }
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw corrupt(`size ${width}×${rawHeight} is not positive`);

  let masks = { r: 0, g: 0, b: 0, a: 0 };
  let paletteOffset = 14 + dib;
  if (compression === 3 || compression === 6) {
    if (bitsPerPixel !== 16 && bitsPerPixel !== 32)
      throw new ImageDecodeError(
        'unsupported',
        `BMP bitfields with ${bitsPerPixel} bits per pixel are not supported`,
        CONVERT_HINT,
      );
    const hasAlphaMask = compression === 6 || dib >= 56;
    // In a 40-byte header the masks follow it; in V2+ headers they are inside it at the same offsets.
    const need = 54 + (hasAlphaMask ? 16 : 12);
    if (b.length < need) throw corrupt('colour masks are cut off');
    masks = {
      r: v.getUint32(54, true),
      g: v.getUint32(58, true),
      b: v.getUint32(62, true),
      a: hasAlphaMask ? v.getUint32(66, true) : 0,
    };
    if (dib === 40) paletteOffset += compression === 6 ? 16 : 12;
  } else if (compression === 0) {
    if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel))
      throw new ImageDecodeError(
        'unsupported',
        `BMP with ${bitsPerPixel} bits per pixel is not supported`,
        CONVERT_HINT,
      );
    if (bitsPerPixel === 16) masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 };
    // The 4th byte of BI_RGB 32-bit pixels is "reserved" and often garbage: never read it as alpha.
    if (bitsPerPixel === 32) masks = { r: 0xff0000, g: 0xff00, b: 0xff, a: 0 };
  } else {
    const kind =
      { 1: 'RLE8', 2: 'RLE4', 4: 'JPEG', 5: 'PNG' }[compression] ?? `type ${compression}`;
    throw new ImageDecodeError(
      'unsupported',
      `BMP with ${kind} compression is not supported`,
      CONVERT_HINT,
    );
  }
  const paletteEntries = bitsPerPixel <= 8 ? clrUsed || 2 ** bitsPerPixel : 0;
  return {
    width,
    height,
    topDown: rawHeight < 0,
    bitsPerPixel,
    compression,
    pixelOffset,
    paletteOffset,
    paletteEntries,
    paletteEntrySize,
    masks,
  };
}

/** Extracts a masked channel and scales it to 0..255. */
function channelReader(mask: number): (px: number) => number {
  if (mask === 0) return () => 255;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (px) => Math.round((((px & mask) >>> shift) * 255) / max);
}

/**
 * Decodes an uncompressed BMP (1/4/8-bit palette, 16/24/32-bit, bitfields) to 8-bit RGB, top row
 * first; an alpha mask is flattened on white.
 */
export function decodeBmp(
  b: Uint8Array,
  maxPixels: number,
): { data: Uint8Array; width: number; height: number } {
  const h = readBmpHeader(b);
  const { width, height, bitsPerPixel: bpp } = h;
  if (width * height > maxPixels)
    throw new ImageDecodeError(
      'too_large',
      `BMP declares ${width}×${height} = ${width * height} pixels, above the limit of ${maxPixels}`,
      'Downscale the image, or raise the pixel limit if it is genuine',
    );
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  if (h.pixelOffset + stride * height > b.length)
    throw corrupt(
      `pixel data is truncated (${b.length} bytes, need ${h.pixelOffset + stride * height})`,
    );

  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const end = h.paletteOffset + h.paletteEntries * h.paletteEntrySize;
    if (end > b.length) throw corrupt('colour palette is cut off');
    palette = new Uint8Array(h.paletteEntries * 3);
    for (let i = 0; i < h.paletteEntries; i++) {
      const o = h.paletteOffset + i * h.paletteEntrySize;
      palette[i * 3] = b[o + 2]!;
      palette[i * 3 + 1] = b[o + 1]!;
      palette[i * 3 + 2] = b[o]!;
    }
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const [rd, gd, bd] = [
    channelReader(h.masks.r),
    channelReader(h.masks.g),
    channelReader(h.masks.b),
  ];
  const ad = h.masks.a ? channelReader(h.masks.a) : undefined;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = h.pixelOffset + (h.topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bit = x * bpp;
        const idx = (b[row + (bit >> 3)]! >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        // An index past the palette is a writer bug, not a reason to drop the image: paint it black.
        if (idx < h.paletteEntries) out.set(palette.subarray(idx * 3, idx * 3 + 3), o);
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = b[p + 2]!;
        out[o + 1] = b[p + 1]!;
        out[o + 2] = b[p]!;
      } else {
        const px = bpp === 16 ? v.getUint16(row + x * 2, true) : v.getUint32(row + x * 4, true);
        let r = rd(px),
          g = gd(px),
          bl = bd(px);
        if (ad) {
          const a = ad(px) / 255;
          r = Math.round(r * a + 255 * (1 - a));
          g = Math.round(g * a + 255 * (1 - a));
          bl = Math.round(bl * a + 255 * (1 - a));
        }
        out[o] = r;
        out[o + 1] = g;
        out[o + 2] = bl;
      }
    }
  }
  return { data: out, width, height };
}
