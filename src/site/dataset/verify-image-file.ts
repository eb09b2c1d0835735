import { createHash } from 'node:crypto';
import { lstat, open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../../core/image/abortable';
import {
  READ_ONLY_FLAGS,
  decodeImage,
  fileAccessError,
  imageTypeOrThrow,
} from '../../core/image/decode-image';
import { ImageDecodeError } from '../../core/image/image-decode-error';
import type { DicomAttributes } from '../../core/image/dicom/read-dicom';
import { IMAGE_EXTENSIONS, type ImageType, SNIFF_BYTES } from '../../core/image/sniff-image-type';
import type { ScannedImage, SkipReason } from './scan-result';

export type VerifyOutcome =
  | {
      ok: true;
      image: Omit<ScannedImage, 'path' | 'label'>;
      /** DICOM only: the attributes labels and the patient unit are taken from (stay local). */
      dicom?: DicomAttributes;
    }
  | { ok: false; reason: SkipReason; detail: string };

const CHUNK = 1 << 20;
const MAX_IN_MEMORY = 64 << 20;
// Verification decodes every pixel (to catch truncation) but keeps only a thumbnail this small.
const VERIFY_SHORT_SIDE = 32;

const EMPTY = new ImageDecodeError(
  'empty',
  'empty (0 bytes)',
  'Re-copy it from its source, or remove it',
);

function fail(e: ImageDecodeError): VerifyOutcome {
  return { ok: false, reason: e.reason, detail: e.detail };
}

/** Why stat() failed, told apart for links: a dangling link is not the same as a missing file. */
async function statFailure(absPath: string, e: unknown): Promise<VerifyOutcome> {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ELOOP')
    return { ok: false, reason: 'symlink_loop', detail: 'symbolic link that resolves to itself' };
  if (code === 'ENOENT') {
    const l = await lstat(absPath).catch(() => undefined);
    if (l?.isSymbolicLink())
      return {
        ok: false,
        reason: 'broken_link',
        detail: 'symbolic link whose target does not exist',
      };
  }
  return fail(fileAccessError(e));
}

/**
 * Checks one dataset file: a regular, non-empty file whose content is an accepted image that
 * decodes completely (truncation is caught) within the pixel limit. Streams its sha256.
 * Opens the file read-only and writes nothing. AbortError propagates; every other problem is
 * an outcome with a skip reason.
 */
export async function verifyImageFile(
  absPath: string,
  opts: { maxPixels?: number; signal?: AbortSignal } = {},
): Promise<VerifyOutcome> {
  throwIfAborted(opts.signal);
  let st;
  try {
    // stat before open: opening a FIFO or device can block or have side effects.
    st = await stat(absPath);
  } catch (e) {
    return statFailure(absPath, e);
  }
  if (!st.isFile())
    return {
      ok: false,
      reason: 'not_file',
      detail: st.isDirectory()
        ? 'a folder, not an image file'
        : 'not a regular file (FIFO, socket or device)',
    };
  if (st.size === 0) return fail(EMPTY);

  let fh: FileHandle;
  try {
    fh = await open(absPath, READ_ONLY_FLAGS);
  } catch (e) {
    return fail(fileAccessError(e));
  }
  let format: ImageType | undefined;
  let bytes = 0;
  const hash = createHash('sha256');
  // Small files are decoded from the very bytes that were hashed, so the recorded sha256 is
  // exactly what was verified; larger ones are decoded from the path to bound memory.
  const keep: Buffer[] | undefined = st.size <= MAX_IN_MEMORY ? [] : undefined;
  try {
    for (;;) {
      throwIfAborted(opts.signal);
      // Sized to the file when small, so a kept chunk does not pin a 1 MiB buffer.
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(SNIFF_BYTES, st.size + 1)));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      if (bytes === 0) {
        // Sniff before hashing the rest: a stray video or archive should not be read whole.
        format = imageTypeOrThrow(buf.subarray(0, Math.min(bytesRead, SNIFF_BYTES)));
      }
      hash.update(buf.subarray(0, bytesRead));
      keep?.push(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } catch (e) {
    if (e instanceof ImageDecodeError) return fail(e);
    if ((e as Error).name === 'AbortError') throw e;
    return fail(fileAccessError(e));
  } finally {
    await fh.close();
  }
  if (bytes === 0 || !format) return fail(EMPTY);

  try {
    const img = await decodeImage(keep ? Buffer.concat(keep, bytes) : absPath, {
      maxPixels: opts.maxPixels,
      resizeShortSide: VERIFY_SHORT_SIDE,
      signal: opts.signal,
    });
    const ext = path.extname(absPath).toLowerCase();
    const mismatch = ext !== '' && !IMAGE_EXTENSIONS[img.format].includes(ext);
    return {
      ok: true,
      image: {
        sha256: hash.digest('hex'),
        bytes,
        width: img.originalWidth,
        height: img.originalHeight,
        format: img.format,
        ...(mismatch ? { note: 'extension_mismatch' as const } : {}),
        ...(img.dicom?.patientId ? { patientId: img.dicom.patientId } : {}),
        ...(img.dicom?.burnedIn ? { burnedInText: true as const } : {}),
      },
      ...(img.dicom ? { dicom: img.dicom } : {}),
    };
  } catch (e) {
    if (e instanceof ImageDecodeError) return fail(e);
    throw e;
  }
}
