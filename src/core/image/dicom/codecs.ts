import { createRequire } from 'node:module';

/** What a compressed frame decodes to, before DICOM's own interpretation of the values. */
export type CodecFrame = {
  /** Sample-interleaved stored values. */
  values: Uint8Array | Uint16Array | Int16Array;
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
};

type FrameInfo = {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
};
type WasmDecoder = {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  delete(): void;
};
type WasmModule = Record<string, new () => WasmDecoder>;

const require = createRequire(import.meta.url);

// The emscripten modules (wasm) load once per process, on first use.
const modules = new Map<string, Promise<WasmModule>>();
function wasm(pkg: string): Promise<WasmModule> {
  let m = modules.get(pkg);
  if (!m) {
    const factory = require(`${pkg}/decodewasmjs`) as (o: object) => Promise<WasmModule>;
    // OpenJPEG logs every tile at [INFO] on stdout: keep the codecs quiet.
    m = factory({ print: () => undefined, printErr: () => undefined });
    modules.set(pkg, m);
  }
  return m;
}

const CODECS = {
  'jpeg-baseline': ['@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder'],
  'jpeg-ls': ['@cornerstonejs/codec-charls', 'JpegLSDecoder'],
  jpeg2000: ['@cornerstonejs/codec-openjpeg', 'J2KDecoder'],
} as const;

/** Decodes one frame with libjpeg-turbo (JPEG baseline), CharLS (JPEG-LS) or OpenJPEG (JPEG 2000). */
export async function decodeWithWasm(
  kind: keyof typeof CODECS,
  encoded: Uint8Array,
): Promise<CodecFrame> {
  const [pkg, cls] = CODECS[kind];
  const Decoder = (await wasm(pkg))[cls]!;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    // Copy out of the wasm heap before the decoder is deleted.
    const bytes = new Uint8Array(decoder.getDecodedBuffer());
    const values =
      info.bitsPerSample > 8
        ? info.isSigned
          ? new Int16Array(bytes.buffer, 0, bytes.length >> 1)
          : new Uint16Array(bytes.buffer, 0, bytes.length >> 1)
        : bytes;
    return {
      values,
      width: info.width,
      height: info.height,
      components: info.componentCount,
      bitsPerSample: info.bitsPerSample,
    };
  } finally {
    decoder.delete();
  }
}

type LosslessDecoder = {
  decode(buffer: ArrayBuffer, offset: number, length: number): Uint8Array | Uint16Array;
  xDim: number;
  yDim: number;
  numComp: number;
  precision: number;
};

/** JPEG lossless, process 14 (jpeg-lossless-decoder-js). */
export function decodeJpegLossless(encoded: Uint8Array): CodecFrame {
  const { Decoder } = require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder };
  const d = new Decoder();
  const values = d.decode(encoded.buffer as ArrayBuffer, encoded.byteOffset, encoded.byteLength);
  return {
    values,
    width: d.xDim,
    height: d.yDim,
    components: d.numComp,
    bitsPerSample: d.precision,
  };
}
