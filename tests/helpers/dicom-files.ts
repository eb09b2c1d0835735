/**
 * A minimal DICOM Part 10 writer for tests (explicit VR little endian data set): enough to build
 * images with chosen attributes, windows, photometric interpretations and transfer syntaxes.
 */
/** A sequence (SQ) value: its items, each a list of elements. */
export interface DicomSequence {
  items: DicomElement[][];
}
export type DicomElement = [
  tag: number,
  vr: string,
  value: string | number | number[] | Uint8Array | DicomSequence,
];

const LONG_VRS = new Set(['OB', 'OW', 'OF', 'SQ', 'UN', 'UT', 'UC', 'UR']);

function element(tag: number, vr: string, value: DicomElement[2]): Buffer {
  let body: Buffer;
  if (typeof value === 'object' && 'items' in value)
    // A sequence of items of explicit length, each a list of elements.
    body = Buffer.concat(
      value.items.map((els) =>
        item(0xe000, Buffer.concat(els.map(([t, v, x]) => element(t, v, x)))),
      ),
    );
  else if (value instanceof Uint8Array) body = Buffer.from(value);
  else if (typeof value === 'string') body = Buffer.from(value, 'latin1');
  else {
    const nums = Array.isArray(value) ? value : [value];
    const size = vr === 'UL' || vr === 'SL' ? 4 : 2;
    body = Buffer.alloc(nums.length * size);
    nums.forEach((n, i) =>
      size === 4
        ? body.writeUInt32LE(n >>> 0, i * 4)
        : vr === 'SS'
          ? body.writeInt16LE(n, i * 2)
          : body.writeUInt16LE(n, i * 2),
    );
  }
  if (body.length % 2)
    body = Buffer.concat([body, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
  const head = Buffer.alloc(LONG_VRS.has(vr) ? 12 : 8);
  head.writeUInt16LE(tag >>> 16, 0);
  head.writeUInt16LE(tag & 0xffff, 2);
  head.write(vr, 4, 'latin1');
  if (LONG_VRS.has(vr)) head.writeUInt32LE(body.length, 8);
  else head.writeUInt16LE(body.length, 6);
  return Buffer.concat([head, body]);
}

function item(tag: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0);
  h.writeUInt16LE(tag, 2);
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}

export function writeDicom(o: {
  transferSyntax?: string;
  sopClassUid?: string;
  sopInstanceUid?: string;
  /** Data set elements (group 0x0008 and up), in any order. */
  elements: DicomElement[];
  /** Native pixel data (OW), or encapsulated fragments (one frame). */
  pixelData?: Uint8Array | { fragments: Uint8Array[] };
}): Buffer {
  const ts = o.transferSyntax ?? '1.2.840.10008.1.2.1';
  const sopClass = o.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.7';
  const sopInstance = o.sopInstanceUid ?? '1.2.826.0.1.3680043.8.498.1';
  const meta = Buffer.concat([
    element(0x00020001, 'OB', Uint8Array.from([0, 1])),
    element(0x00020002, 'UI', sopClass),
    element(0x00020003, 'UI', sopInstance),
    element(0x00020010, 'UI', ts),
    element(0x00020012, 'UI', '1.2.826.0.1.3680043.8.498'),
  ]);
  const all: DicomElement[] = [
    [0x00080016, 'UI', sopClass],
    [0x00080018, 'UI', sopInstance],
    ...o.elements,
  ];
  all.sort((a, b) => a[0] - b[0]);
  const parts = all.map(([t, vr, v]) => element(t, vr, v));
  if (o.pixelData instanceof Uint8Array) parts.push(element(0x7fe00010, 'OW', o.pixelData));
  else if (o.pixelData) {
    const h = Buffer.alloc(12);
    h.writeUInt16LE(0x7fe0, 0);
    h.writeUInt16LE(0x0010, 2);
    h.write('OB', 4, 'latin1');
    h.writeUInt32LE(0xffffffff, 8);
    parts.push(
      h,
      item(0xe000, Buffer.alloc(0)),
      ...o.pixelData.fragments.map((f) => item(0xe000, Buffer.from(f))),
      item(0xe0dd, Buffer.alloc(0)),
    );
  }
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM'),
    element(0x00020000, 'UL', meta.length),
    meta,
    ...parts,
  ]);
}

/** The Image Pixel module of an unsigned image: samples, photometric, size, bits. */
export function pixelModule(o: {
  samples: number;
  photometric: string;
  rows: number;
  columns: number;
  bits: number;
}): DicomElement[] {
  return [
    [0x00280002, 'US', o.samples],
    [0x00280004, 'CS', o.photometric],
    [0x00280010, 'US', o.rows],
    [0x00280011, 'US', o.columns],
    [0x00280100, 'US', o.bits],
    [0x00280101, 'US', o.bits],
    [0x00280102, 'US', o.bits - 1],
    [0x00280103, 'US', 0],
  ];
}

/** A greyscale 16-bit image (MONOCHROME2 unless told) from its stored values. */
export function greyDicom(
  width: number,
  height: number,
  values: number[],
  elements: DicomElement[] = [],
): Buffer {
  const px = Buffer.alloc(width * height * 2);
  values.forEach((v, i) => px.writeUInt16LE(v & 0xffff, i * 2));
  const has = (t: number) => elements.some((e) => e[0] === t);
  return writeDicom({
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    elements: [
      [0x00080060, 'CS', 'MR'],
      [0x00280002, 'US', 1],
      ...(has(0x00280004) ? [] : ([[0x00280004, 'CS', 'MONOCHROME2']] as DicomElement[])),
      [0x00280010, 'US', height],
      [0x00280011, 'US', width],
      [0x00280100, 'US', 16],
      [0x00280101, 'US', 16],
      [0x00280102, 'US', 15],
      ...(has(0x00280103) ? [] : ([[0x00280103, 'US', 0]] as DicomElement[])),
      ...elements,
    ],
    pixelData: px,
  });
}
