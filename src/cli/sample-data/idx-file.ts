import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';

/** An IDX file (the MNIST format): uint8 data with its dimensions, e.g. [N, 28, 28] or [N]. */
export type IdxArray = { dims: number[]; data: Uint8Array };

/** Parses IDX bytes (gzip-compressed or not); only the uint8 type (0x08), which (Fashion-)MNIST uses. */
export function parseIdx(bytes: Uint8Array, name = 'IDX file'): IdxArray {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0)
    throw new Error(
      `${name} is not an IDX file (it must start with two zero bytes); use the original *-idx?-ubyte(.gz) files.`,
    );
  if (raw[2] !== 0x08)
    throw new Error(
      `${name} holds IDX type 0x${raw[2]!.toString(16)}; only unsigned bytes (0x08) are supported.`,
    );
  const rank = raw[3]!;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.length < 4 + 4 * rank)
    throw new Error(`${name} is truncated (its header is incomplete).`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (raw.length < start + count)
    throw new Error(
      `${name} is truncated: its header promises ${count} values of [${dims.join(', ')}], the file has ${raw.length - start}.`,
    );
  return { dims, data: raw.subarray(start, start + count) };
}

export async function readIdx(path: string): Promise<IdxArray> {
  return parseIdx(new Uint8Array(await readFile(path)), path);
}

/** IDX bytes (uncompressed) for uint8 data of the given dimensions. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
