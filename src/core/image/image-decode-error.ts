/**
 * Why a file could not be decoded. The dataset scan uses the same codes as skip reasons.
 * - empty: 0 bytes · not_image: content is no known image format · unsupported: a known format
 *   FGL does not accept (HEIF, SVG, BMP with RLE, a DICOM transfer syntax it does not decode …) · unreadable: permission or I/O error ·
 *   missing: no such file · not_file: a FIFO, socket, device or folder · corrupt: truncated or
 *   damaged pixel data · too_large: more pixels than the limit (decompression-bomb guard)
 */
export type ImageDecodeReason =
  | 'empty'
  | 'not_image'
  | 'unsupported'
  | 'unreadable'
  | 'missing'
  | 'not_file'
  | 'corrupt'
  | 'too_large';

export class ImageDecodeError extends Error {
  constructor(
    readonly reason: ImageDecodeReason,
    /** What is wrong, without the file name (callers that list files show the name themselves). */
    readonly problem: string,
    /** What the user can do about it. */
    readonly hint?: string,
    file?: string,
  ) {
    super(file ? `${file}: ${problem}` : problem);
    this.name = 'ImageDecodeError';
  }

  /** Problem and hint in one line, e.g. for a skip list. */
  get detail(): string {
    return this.hint ? `${this.problem}. ${this.hint}` : this.problem;
  }
}
