import { z } from 'zod';
import { IMAGE_TYPES } from '../../core/image/sniff-image-type';

/**
 * Why a dataset entry was left out. The decode reasons come from src/core/image
 * (ImageDecodeReason); the others are about the file's place in the dataset.
 */
export const SkipReason = z.enum([
  // about the entry
  'hidden', // .DS_Store, ._*, .git, Thumbs.db, __MACOSX …: never scanned
  'no_label', // a file directly in the ImageFolder root, or a manifest row with an empty label
  'not_file', // FIFO, socket, device (or a manifest path that is a folder)
  'broken_link', // symlink whose target does not exist
  'symlink_loop', // folder symlink back to one of its ancestors (or a self-referencing link)
  'duplicate_folder', // folder already scanned under another path (two symlinks to one folder)
  'outside_root', // manifest path escaping the manifest's folder (`../`, absolute elsewhere)
  'duplicate_entry', // manifest lists the same file twice
  'missing', // manifest path (or a file deleted mid-scan) that does not exist
  // about the content (ImageDecodeReason)
  'empty',
  'not_image',
  'unsupported',
  'unreadable',
  'corrupt',
  'too_large',
]);
export type SkipReason = z.infer<typeof SkipReason>;

export const ImageFormat = z.enum(IMAGE_TYPES);

export const ScannedImage = z.object({
  /** Relative to the dataset root (folder) or the manifest's folder; always `/`-separated. */
  path: z.string(),
  label: z.string(),
  /** sha256 of the file's bytes, lower-case hex. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  /** Full-resolution size after EXIF orientation. */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** By content. */
  format: ImageFormat,
  /** Who the image is of, when the data says (manifest column `patient_id`; DICOM PatientID): privacy counts patients. */
  patientId: z.string().optional(),
  /** The name's extension belongs to another format (or to none); the image is still used. */
  note: z.literal('extension_mismatch').optional(),
});
export type ScannedImage = z.infer<typeof ScannedImage>;

export const SkippedFile = z.object({
  path: z.string(),
  reason: SkipReason,
  /** What went wrong and what to do, for people. */
  detail: z.string(),
  /** The class the file would have counted for, when known. */
  label: z.string().optional(),
});
export type SkippedFile = z.infer<typeof SkippedFile>;

export const ClassCount = z.object({ name: z.string(), count: z.number().int().nonnegative() });

export const ScanResult = z.object({
  /** Absolute path that was scanned. */
  root: z.string(),
  layout: z.enum(['folder', 'manifest']),
  /** Every class found (folders or manifest labels), with its number of usable images; sorted by name. */
  classes: z.array(ClassCount),
  /** Number of usable images. */
  images: z.number().int().nonnegative(),
  /** Sorted by path. */
  usable: z.array(ScannedImage),
  /** Sorted by path. */
  skipped: z.array(SkippedFile),
  /** Classes with fewer usable images than k (they cannot form a k-anonymous row on their own). */
  smallClasses: z.array(ClassCount.extend({ k: z.number().int().positive() })),
});
export type ScanResult = z.infer<typeof ScanResult>;
