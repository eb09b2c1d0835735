import {
  type DicomAttributes,
  decodeStoredFrame,
  dicomParserError,
  fromDicomParser,
  parseDicom,
} from './read-dicom';
import { renderFrame } from './render-dicom';

export type DecodedDicom = {
  /** Interleaved 8-bit RGB after windowing (see renderFrame). */
  rgb: Uint8Array;
  width: number;
  height: number;
  attrs: DicomAttributes;
  /** The frame shown (the middle one of a multi-frame object) and how many there are. */
  frame: number;
  frames: number;
};

/** Parses a DICOM Part 10 file and renders its middle frame to 8-bit RGB. Throws ImageDecodeError. */
export async function decodeDicom(
  bytes: Uint8Array,
  o: { maxPixels: number; file?: string },
): Promise<DecodedDicom> {
  // dicom-parser's DataSet accessors can throw strings on a truncated file long after parsing;
  // everything that leaves here is an ImageDecodeError (tests/reliability/fuzz/dicom-decoder.test.ts).
  try {
    const parsed = parseDicom(bytes, o.file);
    const f = await decodeStoredFrame(parsed, { maxPixels: o.maxPixels, file: o.file });
    return {
      rgb: renderFrame(f, parsed.dataSet, o.file),
      width: f.width,
      height: f.height,
      attrs: parsed.attrs,
      frame: f.frame,
      frames: f.frames,
    };
  } catch (e) {
    throw fromDicomParser(e) ? dicomParserError(e, o.file) : e;
  }
}
