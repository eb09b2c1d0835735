import { createRequire } from 'node:module';
import { inflateRawSync } from 'node:zlib';
import type * as DicomParser from 'dicom-parser';
import { ImageDecodeError } from '../image-decode-error';
import { rawDicomTransferSyntax } from '../sniff-image-type';
import { decodeJpegLossless, decodeWithWasm, type CodecFrame } from './codecs';
import { decodeRle } from './decode-rle';
import { isNonPictureSopClass, isSecondaryCapture, sopClassLabel } from './sop-classes';
import { type TransferSyntax, transferSyntax } from './transfer-syntaxes';

// dicom-parser ships a UMD bundle: load it as CommonJS, whichever way this module is compiled.
const dicomParser = createRequire(import.meta.url)('dicom-parser') as typeof DicomParser;

/**
 * The attributes FGL reads from a DICOM object besides its pixels. They identify a patient or a
 * study: they stay on this computer (scan results, labels, the patient unit) and never leave it.
 */
export type DicomAttributes = {
  sopClassUid?: string;
  sopInstanceUid?: string;
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  patientId?: string;
  modality?: string;
  studyDescription?: string;
  seriesDescription?: string;
  /** BurnedInAnnotation = YES, an ultrasound image, or a secondary capture: text may be in the pixels. */
  burnedIn: boolean;
};

/** Attributes a user may name as the label (`--label-attribute`). */
export const LABEL_ATTRIBUTES = {
  StudyDescription: 'studyDescription',
  SeriesDescription: 'seriesDescription',
  Modality: 'modality',
} as const satisfies Record<string, keyof DicomAttributes>;
export type LabelAttribute = keyof typeof LABEL_ATTRIBUTES;

/** One frame's stored values, sample-interleaved, with what is needed to display them. */
export type StoredFrame = {
  values: Int32Array | Float64Array;
  width: number;
  height: number;
  samples: number;
  photometric: string;
  bitsStored: number;
  signed: boolean;
  /** 0-based index of the frame that was decoded, and how many there are. */
  frame: number;
  frames: number;
};

export type ParsedDicom = {
  dataSet: DicomParser.DataSet;
  syntax: TransferSyntax;
  attrs: DicomAttributes;
};

const TAG = {
  transferSyntax: 'x00020010',
  mediaSopClass: 'x00020002',
  sopClass: 'x00080016',
  sopInstance: 'x00080018',
  modality: 'x00080060',
  studyDescription: 'x00081030',
  seriesDescription: 'x0008103e',
  patientId: 'x00100020',
  studyInstance: 'x0020000d',
  seriesInstance: 'x0020000e',
  burnedIn: 'x00280301',
  samples: 'x00280002',
  photometric: 'x00280004',
  planar: 'x00280006',
  frames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  pixelData: 'x7fe00010',
  floatPixelData: 'x7fe00008',
  doubleFloatPixelData: 'x7fe00009',
} as const;

const CONVERT_HINT =
  'Convert it to an uncompressed transfer syntax (e.g. `dcmdjpeg`/`dcmconv +te` from DCMTK or `gdcmconv --raw`) and scan again';

const str = (ds: DicomParser.DataSet, tag: string) => {
  const v = ds.string(tag);
  return v === undefined || v === '' ? undefined : v;
};

/** Whether a thrown value came from dicom-parser (a string, an {exception} object, or an Error it names); our own bugs are not among them. */
export function fromDicomParser(e: unknown): boolean {
  if (typeof e === 'string') return true;
  if (e instanceof Error) return /^dicomParser[.:]/.test(e.message);
  return typeof e === 'object' && e !== null && 'exception' in e;
}

/**
 * What dicom-parser threw, as an ImageDecodeError. It throws {exception, dataSet} objects as well
 * as Errors and strings, while parsing and also later from a DataSet's accessors (`ds.string` on
 * an element whose length runs past the end of a truncated file throws the string
 * "dicomParser.readFixedString: attempt to read past end of buffer"). An ImageDecodeError passes
 * through unchanged.
 */
export function dicomParserError(e: unknown, file?: string): ImageDecodeError {
  if (e instanceof ImageDecodeError) return e;
  const raw = (e as { exception?: unknown } | null)?.exception ?? e;
  const msg = (
    typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : String(raw)
  ).replace(/^dicomParser[.:]\w+: /, '');
  return new ImageDecodeError(
    'corrupt',
    /overrun|cannot be greater|maxPosition|past end of buffer/.test(msg)
      ? `DICOM file is truncated or damaged (${msg})`
      : `DICOM file cannot be parsed (${msg})`,
    'Re-export or re-copy it from the PACS, or remove it',
    file,
  );
}

/**
 * Parses a DICOM Part 10 file, or a bare data set without the preamble and file meta (its
 * transfer syntax then told by its first bytes). Throws ImageDecodeError.
 */
export function parseDicom(bytes: Uint8Array, file?: string): ParsedDicom {
  let dataSet: DicomParser.DataSet;
  const part10 = bytes.length > 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM';
  const rawSyntax = part10 ? null : rawDicomTransferSyntax(bytes);
  try {
    dataSet = dicomParser.parseDicom(bytes, {
      ...(rawSyntax ? { TransferSyntaxUID: rawSyntax } : {}),
      // Deflated transfer syntax: the data set after the file meta is raw deflate.
      inflater: (arr: Uint8Array, position: number) => {
        const inflated = inflateRawSync(arr.subarray(position));
        const out = new Uint8Array(position + inflated.length);
        out.set(arr.subarray(0, position));
        out.set(inflated, position);
        return out;
      },
    } as DicomParser.ParseDicomOptions);
  } catch (e) {
    throw dicomParserError(e, file);
  }
  const tsUid = rawSyntax ?? str(dataSet, TAG.transferSyntax);
  if (!tsUid)
    throw new ImageDecodeError(
      'corrupt',
      'DICOM file meta has no Transfer Syntax UID (0002,0010)',
      'Re-export it from the PACS or fix the file meta (e.g. `dcmconv` from DCMTK)',
      file,
    );
  const sopClassUid = str(dataSet, TAG.sopClass) ?? str(dataSet, TAG.mediaSopClass);
  const modality = str(dataSet, TAG.modality);
  const burnedIn =
    str(dataSet, TAG.burnedIn)?.toUpperCase() === 'YES' ||
    modality === 'US' ||
    isSecondaryCapture(sopClassUid);
  const attrs: DicomAttributes = { burnedIn };
  const put = (key: keyof Omit<DicomAttributes, 'burnedIn'>, value: string | undefined) => {
    if (value !== undefined) attrs[key] = value;
  };
  put('sopClassUid', sopClassUid);
  put('sopInstanceUid', str(dataSet, TAG.sopInstance));
  put('studyInstanceUid', str(dataSet, TAG.studyInstance));
  put('seriesInstanceUid', str(dataSet, TAG.seriesInstance));
  put('patientId', str(dataSet, TAG.patientId));
  put('modality', modality);
  put('studyDescription', str(dataSet, TAG.studyDescription));
  put('seriesDescription', str(dataSet, TAG.seriesDescription));
  return { dataSet, syntax: transferSyntax(tsUid), attrs };
}

function need(ds: DicomParser.DataSet, tag: string, name: string, file?: string): number {
  const v = ds.uint16(tag);
  if (v === undefined || v === 0)
    throw new ImageDecodeError(
      'corrupt',
      `DICOM image has no ${name} (${tag.slice(1, 5)},${tag.slice(5)})`,
      'Re-export it from the PACS',
      file,
    );
  return v;
}

/** The frame FGL uses from a multi-frame object: the middle one (index ⌊frames / 2⌋). */
export function chosenFrame(frames: number): number {
  return Math.floor(frames / 2);
}

/**
 * Decodes the stored values of one frame (default: the middle frame) of a parsed DICOM image,
 * with its Image Pixel module. Refuses what is not a picture of the patient, transfer syntaxes
 * FGL does not decode, and more pixels than `maxPixels`, each with a precise ImageDecodeError.
 */
export async function decodeStoredFrame(
  p: ParsedDicom,
  o: {
    maxPixels: number;
    frame?: number;
    file?: string;
    /** Decode a segmentation or dose grid too (for pixel checks); a scan leaves them out. */
    allowNonPicture?: boolean;
  },
): Promise<StoredFrame> {
  const { dataSet: ds, syntax } = p;
  const file = o.file;
  const sop = p.attrs.sopClassUid;
  if (sop === '1.2.840.10008.1.3.10')
    throw new ImageDecodeError(
      'not_image',
      'a DICOMDIR (index of a DICOM medium), not an image',
      'The images it lists are scanned as the separate files they are',
      file,
    );
  if (ds.elements[TAG.floatPixelData] || ds.elements[TAG.doubleFloatPixelData])
    throw new ImageDecodeError(
      'unsupported',
      `DICOM ${sopClassLabel(sop)} with floating-point pixel data, which FGL does not read`,
      'Export it as an integer image and scan again',
      file,
    );
  const pixel = ds.elements[TAG.pixelData];
  if (!pixel || pixel.length === 0)
    throw new ImageDecodeError(
      'not_image',
      `DICOM ${sopClassLabel(sop)} without pixel data (a report, presentation state, plan or other non-image object)`,
      'Nothing to do: only image objects are used',
      file,
    );
  if (isNonPictureSopClass(sop) && !o.allowNonPicture)
    throw new ImageDecodeError(
      'not_image',
      `DICOM ${sopClassLabel(sop)}: its pixel data is not a picture of the patient`,
      'Nothing to do: only image objects are used',
      file,
    );
  if (syntax.encoding === null)
    throw new ImageDecodeError(
      'unsupported',
      `DICOM with transfer syntax ${syntax.name} (${syntax.uid}), which FGL does not decode`,
      CONVERT_HINT,
      file,
    );
  const rows = need(ds, TAG.rows, 'Rows', file);
  const columns = need(ds, TAG.columns, 'Columns', file);
  const samples = ds.uint16(TAG.samples) ?? 1;
  const bitsAllocated = need(ds, TAG.bitsAllocated, 'Bits Allocated', file);
  const bitsStored = ds.uint16(TAG.bitsStored) ?? bitsAllocated;
  const signed = ds.uint16(TAG.pixelRepresentation) === 1;
  const photometric = (
    str(ds, TAG.photometric) ?? (samples === 3 ? 'RGB' : 'MONOCHROME2')
  ).toUpperCase();
  const planar = ds.uint16(TAG.planar) === 1;
  const frames = Math.max(1, ds.intString(TAG.frames) ?? 1);
  if (rows * columns > o.maxPixels)
    throw new ImageDecodeError(
      'too_large',
      `declares ${columns}×${rows} = ${rows * columns} pixels, above the limit of ${o.maxPixels} (decompression-bomb guard)`,
      'Downscale the image, or raise the pixel limit if it is genuine',
      file,
    );
  if (
    ![1, 8, 16, 32].includes(bitsAllocated) ||
    bitsStored > bitsAllocated ||
    (samples !== 1 && samples !== 3)
  )
    throw new ImageDecodeError(
      'unsupported',
      `DICOM image with ${samples} sample(s) of ${bitsStored}/${bitsAllocated} bits stored/allocated, which FGL does not read`,
      CONVERT_HINT,
      file,
    );
  if (syntax.encoding === 'jpeg-baseline' && bitsStored > 8)
    throw new ImageDecodeError(
      'unsupported',
      `DICOM with transfer syntax ${syntax.name} (${syntax.uid}) at ${bitsStored} bits, which FGL does not decode (its JPEG codec reads 8-bit data)`,
      CONVERT_HINT,
      file,
    );
  const frame = o.frame ?? chosenFrame(frames);
  const shape = { rows, columns, samples, bitsAllocated };
  let values: Int32Array | Float64Array;
  let decodedPhotometric = photometric;
  try {
    if (syntax.encoding === 'native')
      values = nativeFrame(ds, pixel, shape, frame, planar, syntax.bigEndian === true, photometric);
    else {
      const encoded = encapsulatedFrame(ds, pixel, frame, frames, syntax.encoding);
      if (syntax.encoding === 'rle') {
        const raw = decodeRle(encoded, shape);
        values = bitsAllocated === 32 && !signed ? Float64Array.from(raw) : Int32Array.from(raw);
      } else {
        const c: CodecFrame =
          syntax.encoding === 'jpeg-lossless'
            ? decodeJpegLossless(encoded)
            : await decodeWithWasm(
                syntax.encoding,
                syntax.encoding === 'jpeg-baseline' && samples === 3 && photometric === 'RGB'
                  ? withoutColourTransform(encoded)
                  : encoded,
              );
        if (c.width !== columns || c.height !== rows || c.components !== samples)
          throw new Error(
            `the compressed frame is ${c.width}×${c.height}×${c.components}, the header says ${columns}×${rows}×${samples}`,
          );
        values = Int32Array.from(c.values);
        // libjpeg-turbo and OpenJPEG hand back RGB for YBR_FULL(_422) and YBR_ICT/RCT data.
        if (
          samples === 3 &&
          (syntax.encoding === 'jpeg-baseline' || syntax.encoding === 'jpeg2000')
        )
          decodedPhotometric = 'RGB';
      }
    }
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    // The wasm codecs throw bare numbers (an exception pointer): say so rather than print it.
    const msg =
      typeof e === 'string' ? e : e instanceof Error ? e.message : 'the codec rejected the data';
    throw new ImageDecodeError(
      'corrupt',
      `DICOM pixel data (${syntax.name}) cannot be decoded: ${msg}`,
      'Re-export or re-copy it from the PACS, or remove it',
      file,
    );
  }
  if (bitsAllocated > 1) fixBits(values, bitsStored, signed);
  return {
    values,
    width: columns,
    height: rows,
    samples,
    photometric: decodedPhotometric,
    bitsStored,
    signed,
    frame,
    frames,
  };
}

/** Keeps the low `bitsStored` bits of each value: masked when unsigned, sign-extended when signed. */
function fixBits(v: Int32Array | Float64Array, bitsStored: number, signed: boolean): void {
  if (bitsStored >= 32) {
    if (signed && v instanceof Float64Array) for (let i = 0; i < v.length; i++) v[i] = v[i]! | 0;
    return;
  }
  const mask = 2 ** bitsStored - 1;
  const sign = 2 ** (bitsStored - 1);
  for (let i = 0; i < v.length; i++) {
    const x = (v[i]! >>> 0) & mask;
    v[i] = signed && x >= sign ? x - 2 * sign : x;
  }
}

function nativeFrame(
  ds: DicomParser.DataSet,
  el: DicomParser.Element,
  o: { rows: number; columns: number; samples: number; bitsAllocated: number },
  frame: number,
  planar: boolean,
  bigEndian: boolean,
  photometric: string,
): Int32Array | Float64Array {
  const bytes = ds.byteArray;
  const pixels = o.rows * o.columns;
  const n = pixels * o.samples;
  const available = Math.min(el.length, bytes.length - el.dataOffset);
  if (o.bitsAllocated === 1) {
    const startBit = frame * n;
    if (Math.ceil((startBit + n) / 8) > available)
      throw new Error(
        `Pixel Data holds ${available} bytes, frame ${frame + 1} needs ${Math.ceil((startBit + n) / 8)}`,
      );
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const bit = startBit + i;
      out[i] = (bytes[el.dataOffset + (bit >> 3)]! >> (bit & 7)) & 1;
    }
    return out;
  }
  const bps = o.bitsAllocated / 8;
  // YBR_FULL_422 stores two pixels as Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2): 2 values per pixel.
  const sub422 = photometric === 'YBR_FULL_422' && o.samples === 3;
  const perFrame = (sub422 ? pixels * 2 : n) * bps;
  const start = el.dataOffset + frame * perFrame;
  if ((frame + 1) * perFrame > available)
    throw new Error(
      `Pixel Data holds ${available} bytes, ${(frame + 1) * perFrame} expected for frame ${frame + 1} (the file is truncated)`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, perFrame);
  const read = (i: number): number =>
    bps === 1
      ? view.getUint8(i)
      : bps === 2
        ? view.getUint16(i * 2, !bigEndian)
        : view.getUint32(i * 4, !bigEndian);
  const out = o.bitsAllocated === 32 ? new Float64Array(n) : new Int32Array(n);
  if (sub422) {
    for (let p = 0; p < pixels; p += 2) {
      const q = p * 2;
      const [y1, y2, cb, cr] = [read(q), read(q + 1), read(q + 2), read(q + 3)];
      out.set([y1, cb, cr], p * 3);
      if (p + 1 < pixels) out.set([y2, cb, cr], p * 3 + 3);
    }
  } else if (planar && o.samples === 3) {
    for (let s = 0; s < 3; s++)
      for (let p = 0; p < pixels; p++) out[p * 3 + s] = read(s * pixels + p);
  } else for (let i = 0; i < n; i++) out[i] = read(i);
  return out;
}

function encapsulatedFrame(
  ds: DicomParser.DataSet,
  el: DicomParser.Element,
  frame: number,
  frames: number,
  encoding: string,
): Uint8Array {
  const fragments = el.fragments ?? [];
  if (!el.encapsulatedPixelData || fragments.length === 0)
    throw new Error('the transfer syntax is compressed but the Pixel Data is not encapsulated');
  if (frames === 1)
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length);
  if (el.basicOffsetTable && el.basicOffsetTable.length > 0)
    return dicomParser.readEncapsulatedImageFrame(ds, el, frame);
  if (fragments.length === frames)
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, frame, 1);
  if (encoding.startsWith('jpeg')) {
    const table = dicomParser.createJPEGBasicOffsetTable(ds, el);
    return dicomParser.readEncapsulatedImageFrame(ds, el, frame, table);
  }
  throw new Error(`${frames} frames in ${fragments.length} fragments without a Basic Offset Table`);
}

/**
 * A colour JPEG whose DICOM Photometric Interpretation is RGB holds RGB components (PS3.5
 * 8.2.1), but libjpeg assumes YCbCr unless an Adobe APP14 marker says otherwise. As pydicom
 * does, take the DICOM attribute at its word when there is no APP14: a copy of the stream with
 * the JFIF APP0 identifier disabled and an APP14 "transform 0" (no colour transform) inserted.
 */
export function withoutColourTransform(jpeg: Uint8Array): Uint8Array {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  const out = new Uint8Array(jpeg);
  let i = 2;
  while (i + 4 <= out.length && out[i] === 0xff) {
    const marker = out[i + 1]!;
    if (marker === 0xda || marker === 0xd9) break; // start of scan / end of image
    const len = (out[i + 2]! << 8) | out[i + 3]!;
    if (marker === 0xee) return jpeg; // an Adobe marker decides, as it does for pydicom
    if (marker === 0xe0 && String.fromCharCode(...out.subarray(i + 4, i + 8)) === 'JFIF')
      out[i + 4] = 0x58; // 'XFIF': no longer read as JFIF (which implies YCbCr)
    i += 2 + len;
  }
  const app14 = [
    0xff,
    0xee,
    0x00,
    0x0e,
    ...[...'Adobe'].map((c) => c.charCodeAt(0)),
    0,
    100,
    0,
    0,
    0,
    0,
    0,
  ];
  const patched = new Uint8Array(out.length + app14.length);
  patched.set(out.subarray(0, 2));
  patched.set(app14, 2);
  patched.set(out.subarray(2), 2 + app14.length);
  return patched;
}
