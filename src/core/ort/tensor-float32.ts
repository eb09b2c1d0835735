import type ort from 'onnxruntime-node';
import { float16ArrayToFloat32 } from '../../shared/float16';

/**
 * A float tensor's values as Float32Array, whatever the model's output precision. ORT hands
 * float16 out as Float16Array where the runtime has it and as raw Uint16Array bits elsewhere.
 */
export function tensorToFloat32(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  switch (tensor.type) {
    case 'float32':
      return data as Float32Array;
    case 'float16':
      if (data instanceof Uint16Array) return float16ArrayToFloat32(data);
      return Float32Array.from(data as ArrayLike<number>);
    case 'float64':
      return Float32Array.from(data as Float64Array);
    default:
      throw new Error(`Expected a float tensor, got ${tensor.type}.`);
  }
}
