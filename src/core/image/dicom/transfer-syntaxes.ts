/** How FGL decodes the pixel data of each transfer syntax (PS3.5 §10, Annex A). */
export type PixelEncoding =
  | 'native' // uncompressed, little or big endian
  | 'rle' // RLE Lossless (PS3.5 Annex G)
  | 'jpeg-baseline' // JPEG process 1 (and 8-bit process 2/4), libjpeg-turbo
  | 'jpeg-lossless' // JPEG process 14, jpeg-lossless-decoder-js
  | 'jpeg-ls' // CharLS
  | 'jpeg2000'; // OpenJPEG

export type TransferSyntax = {
  uid: string;
  name: string;
  /** null: recognised, but FGL does not decode it. */
  encoding: PixelEncoding | null;
  bigEndian?: boolean;
  deflated?: boolean;
};

const TABLE: readonly TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', encoding: 'native' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', encoding: 'native' },
  {
    uid: '1.2.840.10008.1.2.1.99',
    name: 'Deflated Explicit VR Little Endian',
    encoding: 'native',
    deflated: true,
  },
  {
    uid: '1.2.840.10008.1.2.2',
    name: 'Explicit VR Big Endian',
    encoding: 'native',
    bigEndian: true,
  },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', encoding: 'rle' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', encoding: 'jpeg-baseline' },
  // 8-bit process 2/4 data decodes with the baseline codec; 12-bit data is refused by it.
  {
    uid: '1.2.840.10008.1.2.4.51',
    name: 'JPEG Extended (Process 2 & 4)',
    encoding: 'jpeg-baseline',
  },
  {
    uid: '1.2.840.10008.1.2.4.57',
    name: 'JPEG Lossless, Non-Hierarchical (Process 14)',
    encoding: 'jpeg-lossless',
  },
  {
    uid: '1.2.840.10008.1.2.4.70',
    name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])',
    encoding: 'jpeg-lossless',
  },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', encoding: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Lossy (Near-Lossless)', encoding: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 (Lossless Only)', encoding: 'jpeg2000' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', encoding: 'jpeg2000' },
  // Recognised, not decoded: named in the skip reason so the user knows what to convert.
  { uid: '1.2.840.10008.1.2.4.52', name: 'JPEG Extended (Process 3 & 5, retired)', encoding: null },
  { uid: '1.2.840.10008.1.2.4.53', name: 'JPEG Spectral Selection (retired)', encoding: null },
  { uid: '1.2.840.10008.1.2.4.55', name: 'JPEG Full Progression (retired)', encoding: null },
  { uid: '1.2.840.10008.1.2.4.58', name: 'JPEG Lossless (Process 15, retired)', encoding: null },
  {
    uid: '1.2.840.10008.1.2.4.92',
    name: 'JPEG 2000 Part 2 Multi-component (Lossless Only)',
    encoding: null,
  },
  { uid: '1.2.840.10008.1.2.4.93', name: 'JPEG 2000 Part 2 Multi-component', encoding: null },
  { uid: '1.2.840.10008.1.2.4.94', name: 'JPIP Referenced', encoding: null },
  { uid: '1.2.840.10008.1.2.4.95', name: 'JPIP Referenced Deflate', encoding: null },
  {
    uid: '1.2.840.10008.1.2.4.100',
    name: 'MPEG2 Main Profile / Main Level (video)',
    encoding: null,
  },
  {
    uid: '1.2.840.10008.1.2.4.101',
    name: 'MPEG2 Main Profile / High Level (video)',
    encoding: null,
  },
  { uid: '1.2.840.10008.1.2.4.102', name: 'MPEG-4 AVC/H.264 High Profile (video)', encoding: null },
  {
    uid: '1.2.840.10008.1.2.4.103',
    name: 'MPEG-4 AVC/H.264 BD-compatible (video)',
    encoding: null,
  },
  {
    uid: '1.2.840.10008.1.2.4.104',
    name: 'MPEG-4 AVC/H.264 High Profile for 2D Video',
    encoding: null,
  },
  {
    uid: '1.2.840.10008.1.2.4.105',
    name: 'MPEG-4 AVC/H.264 High Profile for 3D Video',
    encoding: null,
  },
  { uid: '1.2.840.10008.1.2.4.106', name: 'MPEG-4 AVC/H.264 Stereo High Profile', encoding: null },
  { uid: '1.2.840.10008.1.2.4.107', name: 'HEVC/H.265 Main Profile (video)', encoding: null },
  { uid: '1.2.840.10008.1.2.4.108', name: 'HEVC/H.265 Main 10 Profile (video)', encoding: null },
  { uid: '1.2.840.10008.1.2.4.110', name: 'JPEG XL Lossless', encoding: null },
  { uid: '1.2.840.10008.1.2.4.111', name: 'JPEG XL JPEG Recompression', encoding: null },
  { uid: '1.2.840.10008.1.2.4.112', name: 'JPEG XL', encoding: null },
  {
    uid: '1.2.840.10008.1.2.4.201',
    name: 'High-Throughput JPEG 2000 (Lossless Only)',
    encoding: null,
  },
  {
    uid: '1.2.840.10008.1.2.4.202',
    name: 'High-Throughput JPEG 2000 with RPCL (Lossless Only)',
    encoding: null,
  },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000', encoding: null },
  { uid: '1.2.840.10008.1.2.6.1', name: 'RFC 2557 MIME Encapsulation (retired)', encoding: null },
  { uid: '1.2.840.10008.1.2.6.2', name: 'XML Encoding (retired)', encoding: null },
];

const BY_UID = new Map(TABLE.map((t) => [t.uid, t]));

/** The transfer syntax with this UID; an unknown UID is returned as not decodable. */
export function transferSyntax(uid: string): TransferSyntax {
  return BY_UID.get(uid) ?? { uid, name: 'an unknown transfer syntax', encoding: null };
}

/** The transfer syntaxes FGL decodes, for documentation and the import's Accept header. */
export const DECODED_TRANSFER_SYNTAXES = TABLE.filter((t) => t.encoding !== null);
