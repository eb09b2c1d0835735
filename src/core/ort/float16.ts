import ort from 'onnxruntime-node';
import { float32ToFloat16Bits } from '../../shared/float16';

// The bit conversions live in src/shared/float16.ts (one implementation for Node and the
// renderer); this module only adapts float16 tensors to onnxruntime-node.

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
  const bits = values instanceof Uint16Array ? values : Uint16Array.from(values, float32ToFloat16Bits);
  return asNodeFloat16(new ort.Tensor('float16', bits, dims));
}

/** Applies asNodeFloat16 to every feed: call on feeds before session.run. */
export function nodeFeeds(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  for (const t of Object.values(feeds)) asNodeFloat16(t);
  return feeds;
}
