/**
 * safetensors reader/writer (https://github.com/huggingface/safetensors, "Format"): an 8-byte
 * little-endian header length N, N bytes of JSON header, then the data buffer. Pure TypeScript
 * (no Node imports): the server, the site and the browser renderer all use it.
 *
 * Files arrive from other institutions, so the reader trusts nothing: every length is checked
 * before anything is allocated from it, and the header must index the data buffer exactly.
 */
import { float16ArrayToFloat32, float32ArrayToFloat16 } from './float16';

export type SafeDType = 'F16' | 'F32' | 'I32';

const DTYPE_SIZE: Record<SafeDType, number> = { F16: 2, F32: 4, I32: 4 };

/** Default cap on the JSON header: generous for our packages, small enough to never hurt. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024;

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    /** Machine-readable: truncated, header_too_large, header_not_json, bad_metadata, bad_entry,
     *  unknown_dtype, bad_shape, bad_offsets, overlap, unindexed_bytes, shape_mismatch,
     *  wrong_dtype, bad_input. */
    readonly code: string,
    message: string,
    /** What the user or the sender can do about it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export type TensorInput = {
  dtype: SafeDType;
  shape: number[];
  /** F16 given as Float32Array is converted; Uint16Array = raw f16 bits. */
  data: Float32Array | Int32Array | Uint16Array;
};

export type TensorView = {
  name: string;
  dtype: SafeDType;
  shape: number[];
  /** A subarray of the file's bytes: no copy, possibly unaligned. */
  bytes: Uint8Array;
};

export type SafetensorsFile = {
  metadata: Record<string, string>;
  tensors: Map<string, TensorView>;
  /** 8 + N: where the data buffer starts in the file. */
  headerBytes: number;
};

export type HeaderEntry = {
  name: string;
  dtype: SafeDType;
  shape: number[];
  /** Offsets relative to the start of the data buffer. */
  begin: number;
  end: number;
};

export type ParsedHeader = {
  metadata: Record<string, string>;
  /** Sorted by `begin`; together they cover the data buffer exactly. */
  entries: HeaderEntry[];
  /** Length of the data buffer the header describes. */
  dataBytes: number;
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function describeBytes(n: bigint | number): string {
  return `${n.toString()} bytes`;
}

/**
 * Read and check the 8-byte length prefix. Needs only the first 8 bytes of the file and its total
 * size, so a streaming receiver can reject a bad upload before buffering it.
 */
export function safetensorsHeaderLength(
  prefix: Uint8Array,
  totalBytes: number,
  opts?: { maxHeaderBytes?: number },
): number {
  if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) {
    throw new SafetensorsError('bad_input', `total size ${totalBytes} is not a byte count`);
  }
  if (prefix.length < 8 || totalBytes < 8) {
    throw new SafetensorsError(
      'truncated',
      `safetensors file is ${describeBytes(Math.min(totalBytes, prefix.length))} long; it needs at least 8 (the header length)`,
      'The file was cut short; send or copy it again.',
    );
  }
  const max = opts?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  // BigInt: a u64 beyond 2^53 must not be rounded into something that looks plausible.
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(max)) {
    throw new SafetensorsError(
      'header_too_large',
      `safetensors header length at byte 0 is ${describeBytes(n)}, above the limit of ${describeBytes(max)}`,
      'This is not a package this app writes; check that the right file was chosen.',
    );
  }
  if (n > BigInt(totalBytes - 8)) {
    throw new SafetensorsError(
      'truncated',
      `safetensors header length at byte 0 is ${describeBytes(n)} but only ${describeBytes(totalBytes - 8)} follow it`,
      'The file was cut short or is not safetensors; send or copy it again.',
    );
  }
  return Number(n);
}

/**
 * A header value for an error message: JSON.stringify recurses, so a hostile 10 000-deep array
 * would throw RangeError instead of our error; and a 16 MB shape must not become a 16 MB message.
 */
function jsonPreview(v: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Array.isArray(v) ? '[… nested too deeply …]' : '{… nested too deeply …}';
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(name: string, raw: unknown): HeaderEntry {
  const where = `tensor "${name}"`;
  if (!isPlainObject(raw)) {
    throw new SafetensorsError(
      'bad_entry',
      `${where}: header entry is not an object`,
      'Rewrite the file with a safetensors writer.',
    );
  }
  const dtype = raw.dtype;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, dtype)) {
    throw new SafetensorsError(
      'unknown_dtype',
      `${where}: dtype ${jsonPreview(dtype)} is not supported`,
      'Supported dtypes are F16, F32 and I32; convert the tensor before writing.',
    );
  }
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(
      'bad_shape',
      `${where}: shape ${jsonPreview(shape)} is not a list of non-negative integers`,
      'Rewrite the file with a safetensors writer.',
    );
  }
  const offsets = raw.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) ||
    (offsets[0] as number) > (offsets[1] as number)
  ) {
    throw new SafetensorsError(
      'bad_offsets',
      `${where}: data_offsets ${jsonPreview(offsets)} is not [begin, end] with 0 <= begin <= end`,
      'Rewrite the file with a safetensors writer.',
    );
  }
  return {
    name,
    dtype: dtype as SafeDType,
    shape: shape as number[],
    begin: offsets[0] as number,
    end: offsets[1] as number,
  };
}

function byteLengthOf(dtype: SafeDType, shape: readonly number[]): number {
  let n = DTYPE_SIZE[dtype];
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return Number.POSITIVE_INFINITY;
  }
  return n;
}

/**
 * Validate the length prefix and parse + validate the JSON header against the file's total size.
 * `prefix` must hold at least the first 8 + N bytes.
 */
export function parseSafetensorsHeader(
  prefix: Uint8Array,
  totalBytes: number,
  opts?: { maxHeaderBytes?: number },
): { headerLength: number; header: ParsedHeader } {
  const headerLength = safetensorsHeaderLength(prefix, totalBytes, opts);
  if (prefix.length < 8 + headerLength) {
    throw new SafetensorsError(
      'truncated',
      `safetensors header is ${describeBytes(headerLength)} but only ${describeBytes(prefix.length - 8)} of it were given`,
      'Pass the first 8 + N bytes of the file.',
    );
  }
  let json: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      prefix.subarray(8, 8 + headerLength),
    );
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      'header_not_json',
      `safetensors header (bytes 8..${8 + headerLength}) is not UTF-8 JSON: ${(e as Error).message}`,
      'The file is damaged or not safetensors; send or copy it again.',
    );
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError(
      'header_not_json',
      `safetensors header (bytes 8..${8 + headerLength}) is JSON but not an object`,
      'The file is damaged or not safetensors; send or copy it again.',
    );
  }

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const rawMeta = json.__metadata__;
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) {
      throw new SafetensorsError(
        'bad_metadata',
        '__metadata__ is not an object of strings',
        'Write metadata as a string→string map.',
      );
    }
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(
          'bad_metadata',
          `__metadata__["${k}"] is ${v === null ? 'null' : typeof v}, not a string`,
          'Write metadata as a string→string map.',
        );
      }
      metadata[k] = v;
    }
  }

  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    entries.push(parseEntry(name, raw));
  }

  const dataBytes = totalBytes - 8 - headerLength;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.end > dataBytes) {
      throw new SafetensorsError(
        'bad_offsets',
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] run past the data buffer (${describeBytes(dataBytes)})`,
        'The file was cut short or its header is wrong; send or copy it again.',
      );
    }
    if (e.begin < cursor) {
      throw new SafetensorsError(
        'overlap',
        `tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${cursor}`,
        'Rewrite the file with a safetensors writer.',
      );
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(
        'unindexed_bytes',
        `data bytes ${cursor}..${e.begin} belong to no tensor (before tensor "${e.name}")`,
        'safetensors requires the data buffer to be fully indexed; rewrite the file with a safetensors writer.',
      );
    }
    const expected = byteLengthOf(e.dtype, e.shape);
    if (e.end - e.begin !== expected) {
      throw new SafetensorsError(
        'shape_mismatch',
        `tensor "${e.name}": ${e.dtype} shape [${e.shape.join(', ')}] needs ${expected} bytes but data_offsets [${e.begin}, ${e.end}] hold ${e.end - e.begin}`,
        'Rewrite the file with a safetensors writer.',
      );
    }
    cursor = e.end;
  }
  if (cursor !== dataBytes) {
    throw new SafetensorsError(
      'unindexed_bytes',
      `data bytes ${cursor}..${dataBytes} after the last tensor belong to no tensor`,
      'safetensors requires the data buffer to be fully indexed; the file may have been appended to.',
    );
  }
  return { headerLength, header: { metadata, entries, dataBytes } };
}

export function readSafetensors(
  bytes: Uint8Array,
  opts?: { maxHeaderBytes?: number },
): SafetensorsFile {
  const { headerLength, header } = parseSafetensorsHeader(bytes, bytes.length, opts);
  const start = 8 + headerLength;
  const tensors = new Map<string, TensorView>();
  for (const e of header.entries) {
    tensors.set(e.name, {
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      bytes: bytes.subarray(start + e.begin, start + e.end),
    });
  }
  return { metadata: header.metadata, tensors, headerBytes: start };
}

function copyAligned(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out.buffer;
}

export function tensorToFloat32(t: TensorView): Float32Array {
  if (t.dtype === 'F32') {
    if (LITTLE_ENDIAN) return new Float32Array(copyAligned(t.bytes));
    const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length);
    const out = new Float32Array(t.bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  if (t.dtype === 'F16') return float16ArrayToFloat32(tensorToFloat16Bits(t));
  throw new SafetensorsError(
    'wrong_dtype',
    `tensor "${t.name}" is ${t.dtype}, not a float tensor`,
    'Read it with tensorToInt32.',
  );
}

/** Raw binary16 bits of an F16 tensor (copy, aligned). */
export function tensorToFloat16Bits(t: TensorView): Uint16Array {
  if (t.dtype !== 'F16') {
    throw new SafetensorsError(
      'wrong_dtype',
      `tensor "${t.name}" is ${t.dtype}, not F16`,
      'Read it with tensorToFloat32.',
    );
  }
  if (LITTLE_ENDIAN) return new Uint16Array(copyAligned(t.bytes));
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length);
  const out = new Uint16Array(t.bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(i * 2, true);
  return out;
}

export function tensorToInt32(t: TensorView): Int32Array {
  if (t.dtype !== 'I32') {
    throw new SafetensorsError(
      'wrong_dtype',
      `tensor "${t.name}" is ${t.dtype}, not I32`,
      'Read it with tensorToFloat32.',
    );
  }
  if (LITTLE_ENDIAN) return new Int32Array(copyAligned(t.bytes));
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.length);
  const out = new Int32Array(t.bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = dv.getInt32(i * 4, true);
  return out;
}

/** Little-endian bytes of a tensor's data, converting F16-as-Float32Array. */
function encodeData(name: string, t: TensorInput): Uint8Array {
  let arr: Float32Array | Int32Array | Uint16Array;
  if (t.dtype === 'F16') {
    if (t.data instanceof Float32Array) arr = float32ArrayToFloat16(t.data);
    else if (t.data instanceof Uint16Array) arr = t.data;
    else
      throw new SafetensorsError(
        'bad_input',
        `tensor "${name}": F16 data must be a Float32Array or Uint16Array (raw bits)`,
      );
  } else if (t.dtype === 'F32') {
    if (!(t.data instanceof Float32Array))
      throw new SafetensorsError('bad_input', `tensor "${name}": F32 data must be a Float32Array`);
    arr = t.data;
  } else if (t.dtype === 'I32') {
    if (!(t.data instanceof Int32Array))
      throw new SafetensorsError('bad_input', `tensor "${name}": I32 data must be an Int32Array`);
    arr = t.data;
  } else {
    throw new SafetensorsError(
      'unknown_dtype',
      `tensor "${name}": dtype ${String(t.dtype)} is not supported`,
      'Use F16, F32 or I32.',
    );
  }
  return littleEndianBytes(arr);
}

/** 8-byte length + JSON header, padded with spaces so the data buffer starts 8-byte aligned. */
function headerBytes(header: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  return out;
}

export type TensorSpec = { name: string; dtype: SafeDType; shape: number[] };

/**
 * For writing a safetensors file in pieces (streaming): the header that `writeSafetensors` would
 * write for tensors with these names, dtypes and shapes (laid out in the order given), and the
 * length of the data buffer that must follow it. The caller then writes each tensor's
 * little-endian bytes in order (see `littleEndianBytes`); the result is byte-identical to
 * `writeSafetensors` with the same tensors and metadata.
 */
export function safetensorsHeader(
  tensors: readonly TensorSpec[],
  metadata?: Record<string, string>,
): { header: Uint8Array; dataBytes: number } {
  const header = Object.create(null) as Record<string, unknown>;
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new SafetensorsError('bad_metadata', `metadata["${k}"] is not a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__')
      throw new SafetensorsError('bad_input', '"__metadata__" cannot be a tensor name');
    if (t.name in header)
      throw new SafetensorsError('bad_input', `tensor "${t.name}" is listed twice`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        'bad_shape',
        `tensor "${t.name}": shape [${t.shape.join(', ')}] is not a list of non-negative integers`,
      );
    }
    if (!Object.hasOwn(DTYPE_SIZE, t.dtype))
      throw new SafetensorsError(
        'unknown_dtype',
        `tensor "${t.name}": dtype ${String(t.dtype)} is not supported`,
        'Use F16, F32 or I32.',
      );
    const bytes = byteLengthOf(t.dtype, t.shape);
    if (!Number.isSafeInteger(bytes))
      throw new SafetensorsError(
        'bad_shape',
        `tensor "${t.name}": shape [${t.shape.join(', ')}] is too large`,
      );
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  return { header: headerBytes(header), dataBytes: offset };
}

/**
 * The little-endian bytes of a typed array, as safetensors stores them: a view of the array
 * itself on little-endian machines (no copy), a byte-swapped copy elsewhere.
 */
export function littleEndianBytes(arr: Float32Array | Int32Array | Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  const out = new Uint8Array(arr.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < arr.length; i++) {
    if (arr instanceof Uint16Array) dv.setUint16(i * 2, arr[i]!, true);
    else if (arr instanceof Int32Array) dv.setInt32(i * 4, arr[i]!, true);
    else dv.setFloat32(i * 4, arr[i]!, true);
  }
  return out;
}

/**
 * Serialize tensors (in the order given) with optional string metadata. The header is padded
 * with spaces so the data buffer starts 8-byte aligned.
 */
export function writeSafetensors(
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  // Null prototype: a tensor named "__proto__" must stay a key, not become the prototype.
  const header = Object.create(null) as Record<string, unknown>;
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new SafetensorsError('bad_metadata', `metadata["${k}"] is not a string`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__')
      throw new SafetensorsError('bad_input', '"__metadata__" cannot be a tensor name');
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        'bad_shape',
        `tensor "${name}": shape [${t.shape.join(', ')}] is not a list of non-negative integers`,
      );
    }
    const data = encodeData(name, t);
    const expected = byteLengthOf(t.dtype, t.shape);
    if (data.length !== expected) {
      throw new SafetensorsError(
        'shape_mismatch',
        `tensor "${name}": ${t.dtype} shape [${t.shape.join(', ')}] needs ${expected} bytes but the data has ${data.length}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  const prefix = headerBytes(header);
  const out = new Uint8Array(prefix.length + offset);
  out.set(prefix, 0);
  let pos = prefix.length;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}
