import { describe, expect, it } from 'vitest';
import { sniffImageType, sniffUnsupportedFormat } from '../../../src/core/image/sniff-image-type';
import { dicomStub, encodeImage, twoFrameGif, writeBmp24 } from '../../helpers/broken-images';

describe('sniffImageType', () => {
  it('recognises each accepted format by its real encoder output', async () => {
    for (const fmt of ['jpeg', 'png', 'webp', 'tiff'] as const)
      expect(sniffImageType(await encodeImage(fmt))).toBe(fmt);
    expect(sniffImageType(await twoFrameGif(4, 4, [0, 0, 0], [255, 255, 255]))).toBe('gif');
    expect(sniffImageType(writeBmp24(2, 2, new Uint8Array(12)))).toBe('bmp');
    expect(sniffImageType(dicomStub())).toBe('dicom');
    // A bare data set, without the Part 10 preamble and file meta.
    expect(sniffImageType(dicomStub().subarray(132 + 12 + dicomStub().readUInt32LE(140)))).toBe(
      'dicom',
    );
  });

  it('takes a DICOM file whose preamble holds a TIFF header for DICOM, not a damaged TIFF', () => {
    const dual = dicomStub();
    dual.set([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0], 0);
    expect(sniffImageType(dual)).toBe('dicom');
  });

  it('knows big-endian TIFF and BigTIFF', () => {
    expect(sniffImageType(Uint8Array.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]))).toBe('tiff');
    expect(sniffImageType(Uint8Array.from([0x49, 0x49, 0x2b, 0x00, 8, 0, 0, 0]))).toBe('tiff');
  });

  it('says null for text, random bytes, short input and a text file that starts with "BM"', () => {
    expect(sniffImageType(new TextEncoder().encode('hello, world'))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode('BMI table: height, weight, age …'))).toBeNull();
    expect(sniffImageType(Uint8Array.from([0xff, 0xd8]))).toBeNull();
    expect(sniffImageType(new Uint8Array(0))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode('RIFF....WAVEfmt '))).toBeNull();
  });
});

describe('sniffUnsupportedFormat', () => {
  it('names formats FGL recognises but does not accept', () => {
    expect(sniffUnsupportedFormat(new TextEncoder().encode('%PDF-1.7\n'))).toBe('PDF');
    expect(
      sniffUnsupportedFormat(new TextEncoder().encode('<?xml version="1.0"?>\n<svg xmlns="…">')),
    ).toBe('SVG');
    const heic = new Uint8Array(16);
    heic.set(new TextEncoder().encode('ftypheic'), 4);
    expect(sniffUnsupportedFormat(heic)).toBe('HEIF/AVIF');
    expect(sniffUnsupportedFormat(new TextEncoder().encode('just text'))).toBeNull();
  });
});
