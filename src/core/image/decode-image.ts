import { constants, promises as fsp } from 'node:fs';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { abortable, throwIfAborted } from './abortable';
import { decodeBmp, readBmpHeader } from './decode-bmp';
import { decodeDicom } from './dicom/decode-dicom';
import type { DicomAttributes } from './dicom/read-dicom';
import { ImageDecodeError } from './image-decode-error';
import {
  type ImageType,
  SNIFF_BYTES,
  sniffImageType,
  sniffUnsupportedFormat,
} from './sniff-image-type';

/** Decompression-bomb guard: images declaring more pixels than this are refused before decoding. */
export const DEFAULT_MAX_PIXELS = 100e6;

export type DecodeImageOptions = {
  /** Refuse images with more pixels (width × height of the first frame). Default 100 million. */
  maxPixels?: number;
  /** Scale so the shorter side is this many pixels (never enlarges); keeps memory bounded. */
  resizeShortSide?: number;
  signal?: AbortSignal;
};

export type DecodedImage = {
  /** Interleaved 8-bit RGB, row-major, `width * height * 3` bytes. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  /** The format found by content, not by file name. */
  format: ImageType;
  /** Full-resolution size after EXIF orientation, before any resize. */
  originalWidth: number;
  originalHeight: number;
  /** DICOM only: identifying attributes, kept on this computer (see DicomAttributes). */
  dicom?: DicomAttributes;
};

/** Flags for opening dataset files: read-only, and O_NONBLOCK so a FIFO cannot hang open(). */
export const READ_ONLY_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Maps an fs error on `file` to the decode reason a user can act on. */
export function fileAccessError(e: unknown, file?: string): ImageDecodeError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new ImageDecodeError(
      'missing',
      'no such file',
      'Check the path; the file may have been moved',
      file,
    );
  if (code === 'EISDIR')
    return new ImageDecodeError('not_file', 'a folder, not an image file', undefined, file);
  return new ImageDecodeError(
    'unreadable',
    `cannot be read (${code ?? (e as Error).message})`,
    code === 'EACCES' || code === 'EPERM'
      ? 'Give the account running FGL read permission on the file'
      : 'Check the disk or network share, then scan again',
    file,
  );
}

/** Reads the first bytes of a regular file (read-only; never writes, never blocks on a FIFO). */
async function readHead(file: string): Promise<Uint8Array> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, READ_ONLY_FLAGS);
  } catch (e) {
    throw fileAccessError(e, file);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new ImageDecodeError(
        'not_file',
        'not a regular file (a FIFO, socket, device or folder)',
        undefined,
        file,
      );
    const buf = new Uint8Array(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    throw e instanceof ImageDecodeError ? e : fileAccessError(e, file);
  } finally {
    await fh.close();
  }
}

/**
 * The accepted format of content that starts with `head`, or an ImageDecodeError saying why it
 * is not usable (`empty`, `unsupported` for a recognised foreign format, `not_image`).
 */
export function imageTypeOrThrow(head: Uint8Array, file?: string): ImageType {
  if (head.length === 0)
    throw new ImageDecodeError(
      'empty',
      'empty (0 bytes)',
      'Re-copy it from its source, or remove it',
      file,
    );
  const format = sniffImageType(head);
  if (format) return format;
  const other = sniffUnsupportedFormat(head);
  if (other)
    throw new ImageDecodeError(
      'unsupported',
      `${other}, a format FGL does not read`,
      other.startsWith('DICOM')
        ? 'Re-save it as a DICOM Part 10 file (e.g. `dcmconv` from DCMTK) and scan again'
        : 'Convert it to PNG or JPEG and scan again',
      file,
    );
  throw new ImageDecodeError(
    'not_image',
    'not an image (the content is no JPEG, PNG, WebP, TIFF, BMP, GIF or DICOM)',
    undefined,
    file,
  );
}

function tooLarge(
  width: number,
  height: number,
  maxPixels: number,
  file?: string,
): ImageDecodeError {
  return new ImageDecodeError(
    'too_large',
    `declares ${width}×${height} = ${width * height} pixels, above the limit of ${maxPixels} (decompression-bomb guard)`,
    'Downscale the image, or raise the pixel limit if it is genuine',
    file,
  );
}

function sharpError(
  e: unknown,
  format: ImageType,
  maxPixels: number,
  file?: string,
): ImageDecodeError {
  // libvips repeats warnings line by line; keep each distinct line once.
  const msg = [
    ...new Set(
      (e instanceof Error ? e.message : String(e))
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].join('; ');
  if (/exceeds pixel limit/i.test(msg))
    return new ImageDecodeError(
      'too_large',
      `exceeds the pixel limit of ${maxPixels}`,
      'Downscale the image',
      file,
    );
  return new ImageDecodeError(
    'corrupt',
    `${format.toUpperCase()} is truncated or damaged (${msg})`,
    'Re-export or re-copy the image from its source, or remove it',
    file,
  );
}

const isAbort = (e: unknown) => e instanceof Error && e.name === 'AbortError';

async function normalise(
  input: Sharp,
  info: { format: ImageType; originalWidth: number; originalHeight: number },
  opts: DecodeImageOptions,
  maxPixels: number,
  file: string | undefined,
): Promise<DecodedImage> {
  let img = input.flatten({ background: { r: 255, g: 255, b: 255 } }).toColourspace('srgb');
  if (opts.resizeShortSide)
    img = img.resize({
      width: opts.resizeShortSide,
      height: opts.resizeShortSide,
      fit: 'outside',
      withoutEnlargement: true,
    });
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await abortable(
      img.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
      opts.signal,
    );
  } catch (e) {
    if (isAbort(e)) throw e;
    throw sharpError(e, info.format, maxPixels, file);
  }
  if (out.info.channels !== 3)
    throw new ImageDecodeError(
      'corrupt',
      `decoded to ${out.info.channels} channels instead of 3`,
      undefined,
      file,
    );
  return { data: out.data, width: out.info.width, height: out.info.height, channels: 3, ...info };
}

/**
 * Decodes the first frame of a JPEG, PNG, WebP, TIFF, BMP or GIF, or the middle frame of a DICOM
 * image (windowed, see src/core/image/dicom/render-dicom.ts), from a path or bytes, to 8-bit
 * RGB: EXIF orientation applied, alpha flattened on white, greyscale and 16-bit converted.
 * The format is taken from the content. Fails with ImageDecodeError (see its `reason`) or, when
 * `signal` aborts, an AbortError. Files are only ever opened read-only.
 */
export async function decodeImage(
  input: string | Uint8Array,
  opts: DecodeImageOptions = {},
): Promise<DecodedImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  const file = typeof input === 'string' ? input : undefined;
  throwIfAborted(opts.signal);
  const head = typeof input === 'string' ? await readHead(input) : input.subarray(0, SNIFF_BYTES);
  throwIfAborted(opts.signal);
  const format = imageTypeOrThrow(head, file);

  if (format === 'bmp' || format === 'dicom') {
    // Check the declared size before reading the whole file into memory.
    if (format === 'bmp') {
      const header = readBmpHeader(head);
      if (header.width * header.height > maxPixels)
        throw tooLarge(header.width, header.height, maxPixels, file);
    }
    let bytes: Uint8Array;
    try {
      bytes =
        typeof input === 'string'
          ? await fsp.readFile(input, { flag: READ_ONLY_FLAGS, signal: opts.signal })
          : input;
    } catch (e) {
      if (isAbort(e)) throw e;
      throw fileAccessError(e, file);
    }
    if (format === 'dicom') {
      // DICOM checks Rows × Columns against the limit before it decodes any pixel.
      const d = await decodeDicom(bytes, { maxPixels, file });
      throwIfAborted(opts.signal);
      const raw = sharp(d.rgb, { raw: { width: d.width, height: d.height, channels: 3 } });
      const out = await normalise(
        raw,
        { format, originalWidth: d.width, originalHeight: d.height },
        opts,
        maxPixels,
        file,
      );
      return { ...out, dicom: d.attrs };
    }
    const bmp = decodeBmp(bytes, maxPixels);
    const raw = sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } });
    return normalise(
      raw,
      { format, originalWidth: bmp.width, originalHeight: bmp.height },
      opts,
      maxPixels,
      file,
    );
  }

  // pages: 1 = first frame of an animated GIF/WebP or a multi-page TIFF.
  const base = { pages: 1, page: 0, limitInputPixels: maxPixels } as const;
  let meta: Metadata;
  try {
    meta = await abortable(
      sharp(input, { ...base, limitInputPixels: false }).metadata(),
      opts.signal,
    );
  } catch (e) {
    if (isAbort(e)) throw e;
    throw sharpError(e, format, maxPixels, file);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w * h > maxPixels) throw tooLarge(w, h, maxPixels, file);
  const oriented = meta.autoOrient ?? { width: w, height: h };
  // failOn 'truncated': a cut-off JPEG/PNG is an error, while benign warnings (stray bytes) are not.
  const img = sharp(input, {
    ...base,
    failOn: 'truncated',
    autoOrient: true,
    sequentialRead: true,
  });
  return normalise(
    img,
    { format, originalWidth: oriented.width, originalHeight: oriented.height },
    opts,
    maxPixels,
    file,
  );
}
