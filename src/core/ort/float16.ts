import ort from 'onnxruntime-node';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half (raw bits) to a JS number. */
export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A number to IEEE 754 half bits, rounding to nearest even (as numpy's astype(float16)). */
export function numberToHalfBits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function toHalfBits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToHalfBits(values[i]!);
  return out;
}

/**
 * Hands ORT its float16 data as Uint16Array. onnxruntime-common turns float16 data into a
 * Float16Array wherever the runtime has one (Node >= 24, recent Electron), which the
 * onnxruntime-node 1.30 binding rejects ("must be a typed array (4 …)"; microsoft/onnxruntime#26791).
 * transformers.js applies the same fix in its sessionRun.
 */
export function asNodeFloat16(tensor: ort.Tensor): ort.Tensor {
  if (tensor.type !== 'float16') return tensor;
  const t = tensor as ort.Tensor & { cpuData?: unknown };
  const data = t.cpuData;
  if (typeof Float16Array !== 'undefined' && data instanceof Float16Array) {
    t.cpuData = new Uint16Array(data.buffer, data.byteOffset, data.length);
  }
  return tensor;
}

/** A float16 tensor ORT-node accepts, from float values (converted) or raw half bits. */
export function float16Tensor(
  values: Float32Array | Uint16Array,
  dims: readonly number[],
): ort.Tensor {
  const bits = values instanceof Uint16Array ? values : toHalfBits(values);
  return asNodeFloat16(new ort.Tensor('float16', bits, dims));
}

/** Applies asNodeFloat16 to every feed: call on feeds before session.run. */
export function nodeFeeds(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  for (const t of Object.values(feeds)) asNodeFloat16(t);
  return feeds;
}
