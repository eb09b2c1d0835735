/** The image formats FGL accepts, on every site and on the server alike. */
export const IMAGE_TYPES = ['jpeg', 'png', 'webp', 'tiff', 'bmp', 'gif', 'dicom'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** How many leading bytes `sniffImageType` and `sniffUnsupportedFormat` look at (DICOM needs 132). */
export const SNIFF_BYTES = 512;

/** File-name extensions that belong to each accepted format (lower case, with the dot). */
export const IMAGE_EXTENSIONS: Record<ImageType, readonly string[]> = {
  jpeg: ['.jpg', '.jpeg', '.jpe', '.jfif'],
  png: ['.png'],
  webp: ['.webp'],
  tiff: ['.tif', '.tiff'],
  bmp: ['.bmp', '.dib'],
  gif: ['.gif'],
  // DICOM files often have no extension at all (PACS exports name them by UID).
  dicom: ['.dcm', '.dicom', '.dic'],
};

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

/**
 * The image format of a file by its content (magic bytes), never by its name.
 * Pass at least the first 16 bytes; null when it is none of the accepted formats.
 */
export function sniffImageType(firstBytes: Uint8Array): ImageType | null {
  const b = firstBytes;
  // DICOM first: its 128-byte preamble is free-form and often holds a TIFF header (dual-format
  // files), so the TIFF check below would claim it.
  if (startsWith(b, ascii('DICM'), 128)) return 'dicom';
  if (startsWith(b, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a'))) return 'gif';
  if (startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8)) return 'webp';
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  if (startsWith(b, [0x49, 0x49, 0x2b, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2b]))
    return 'tiff';
  if (startsWith(b, ascii('BM')) && b.length >= 18) {
    // "BM" alone is too weak (a text file may start with it): require a known DIB header size.
    const dib = (b[14]! | (b[15]! << 8) | (b[16]! << 16) | (b[17]! << 24)) >>> 0;
    if ([12, 40, 52, 56, 64, 108, 124].includes(dib)) return 'bmp';
  }
  // Last: a bare DICOM data set (no preamble) has the weakest signature of all.
  if (rawDicomTransferSyntax(b)) return 'dicom';
  return null;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';

/**
 * A DICOM data set written without the Part 10 header (old or proprietary exports) starts with
 * a group 0x0008 (or 0x0002) element, little or big endian, whose explicit VR or implicit length
 * is plausible. Returns the transfer syntax it is written in, or null when it is no such data set.
 */
export function rawDicomTransferSyntax(b: Uint8Array): string | null {
  if (b.length < 8) return null;
  const group = (x: number, y: number) => y === 0x00 && (x === 0x08 || x === 0x02);
  const vr = String.fromCharCode(b[4]!, b[5]!);
  const knownVr = /^(AE|AS|CS|DA|DS|DT|IS|LO|LT|OB|OW|PN|SH|SQ|ST|TM|UI|UL|UN|US|UT)$/.test(vr);
  // Big endian (explicit VR only): 00 08 00 xx 'CS' …
  if (group(b[1]!, b[0]!) && b[2] === 0x00) return knownVr ? EXPLICIT_BE : null;
  if (!group(b[0]!, b[1]!) || b[3] !== 0x00) return null;
  if (knownVr) return EXPLICIT_LE;
  const len = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24);
  return len >= 0 && len < 1024 ? IMPLICIT_LE : null;
}

/**
 * Formats we recognise but do not accept, so the user is told "convert it" rather than
 * "not an image". Returns a human name, or null.
 */
export function sniffUnsupportedFormat(firstBytes: Uint8Array): string | null {
  const b = firstBytes;
  if (startsWith(b, ascii('ftyp'), 4)) {
    const brand = String.fromCharCode(...b.subarray(8, 12));
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1|avif|avis)$/.test(brand)) return 'HEIF/AVIF';
  }
  if (
    startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) ||
    startsWith(b, [0xff, 0x4f, 0xff, 0x51])
  )
    return 'JPEG 2000';
  if (
    startsWith(b, [0xff, 0x0a]) ||
    startsWith(b, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20])
  )
    return 'JPEG XL';
  if (startsWith(b, ascii('%PDF'))) return 'PDF';
  if (startsWith(b, ascii('8BPS'))) return 'Photoshop PSD';
  if (
    startsWith(b, ascii('P')) &&
    b.length > 2 &&
    b[1]! >= 0x31 &&
    b[1]! <= 0x36 &&
    /\s/.test(String.fromCharCode(b[2]!))
  )
    return 'Netpbm';
  const text = String.fromCharCode(...b.subarray(0, Math.min(b.length, SNIFF_BYTES)));
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(text)) return 'SVG';
  return null;
}
