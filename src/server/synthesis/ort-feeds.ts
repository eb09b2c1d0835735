import ort from 'onnxruntime-node';
import { float16Tensor } from '../../core/ort/float16';

/**
 * A float input in the dtype the graph declares: float32 as is, float16 as half bits (fp16
 * exports take and return float16 everywhere).
 */
export function floatFeed(
  values: Float32Array,
  type: ort.Tensor.Type,
  dims: readonly number[],
  what: string,
): ort.Tensor {
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', values, dims);
    case 'float16':
      return float16Tensor(values, dims);
    default:
      throw new Error(
        `The model's ${what} input is ${type}; the pipeline feeds float32 or float16. Re-export the model with a float ${what}.`,
      );
  }
}

/**
 * The UNet's `timestep` in the dtype and shape the graph declares: a scalar for rank 0, [1] for a
 * fixed size 1 (diffusers' OnnxStableDiffusionPipeline feeds [1] and lets it broadcast), else one
 * per batch row. Integer exports get the nearest whole timestep (Euler's can be fractional).
 */
export function timestepFeed(
  t: number,
  type: ort.Tensor.Type,
  declared: ReadonlyArray<number | string>,
  batch: number,
): ort.Tensor {
  let dims: number[];
  if (declared.length === 0) dims = [];
  else if (declared.length === 1) {
    const d = declared[0];
    if (typeof d === 'number' && d > 0 && d !== 1 && d !== batch) {
      throw new Error(
        `The UNet's timestep input has fixed size ${d}, but this run needs ${batch} (or 1). Re-export the UNet with a dynamic batch axis.`,
      );
    }
    dims = [d === 1 ? 1 : batch];
  } else {
    throw new Error(
      `The UNet's timestep input has rank ${declared.length} ([${declared.join(', ')}]); expected a scalar or a vector.`,
    );
  }
  const n = dims.length === 0 ? 1 : dims[0]!;
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(n).fill(t), dims);
    case 'float64':
      return new ort.Tensor('float64', new Float64Array(n).fill(t), dims);
    case 'float16':
      return float16Tensor(new Float32Array(n).fill(t), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
    default:
      throw new Error(
        `The UNet's timestep input is ${type}; supported are float32, float16, float64, int64 and int32.`,
      );
  }
}
