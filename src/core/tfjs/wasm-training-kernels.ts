import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import type { Tf } from './tfjs-backend';

type KernelParams = Parameters<KernelConfig['kernelFunc']>[0];

/** The parts of tfjs-backend-wasm's BackendWasm this kernel uses (public methods of that class). */
interface WasmBackendView {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: unknown): boolean;
}

interface FilterAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

type ConvInfo = ReturnType<Tf['backend_util']['computeConv2DInfo']>;

/**
 * Transposed im2col of an NHWC input for the filter gradient: colsT[k][m], with k =
 * (wR·filterWidth + wC)·inChannels + c a filter tap and m = (b, yR, yC) an output position, holds
 * the input pixel that tap meets at that position (0 in the padding). `xT` is x as
 * [inChannels, batch·inHeight·inWidth] (transposeMatrices), so each colsT row is a shifted copy
 * of one xT row: whole output rows at once when the stride along the width is 1.
 */
export function im2colTNhwc(xT: Float32Array, info: ConvInfo, colsT: Float32Array): void {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const m = batchSize * outHeight * outWidth;
  const plane = batchSize * inHeight * inWidth;
  colsT.fill(0);
  for (let wR = 0; wR < filterHeight; wR++) {
    for (let wC = 0; wC < filterWidth; wC++) {
      // Output columns whose input column xC = yC·strideWidth + wC − left lies inside the image.
      const yC0 = Math.max(0, Math.ceil((left - wC) / strideWidth));
      const yC1 = Math.min(outWidth, Math.floor((inWidth - 1 + left - wC) / strideWidth) + 1);
      if (yC1 <= yC0) continue;
      for (let c = 0; c < inChannels; c++) {
        const src = xT.subarray(c * plane, (c + 1) * plane);
        const rowBase = ((wR * filterWidth + wC) * inChannels + c) * m;
        for (let b = 0; b < batchSize; b++) {
          for (let yR = 0; yR < outHeight; yR++) {
            const xR = yR * strideHeight + wR - top;
            if (xR < 0 || xR >= inHeight) continue;
            const xRow = (b * inHeight + xR) * inWidth;
            const dst = rowBase + (b * outHeight + yR) * outWidth;
            const first = xRow + yC0 * strideWidth + wC - left;
            if (strideWidth === 1) {
              colsT.set(src.subarray(first, first + (yC1 - yC0)), dst + yC0);
            } else {
              for (let yC = yC0, s = first; yC < yC1; yC++, s += strideWidth)
                colsT[dst + yC] = src[s]!;
            }
          }
        }
      }
    }
  }
}

/**
 * col2im for the input gradient: dx[pixel] += cols[m][k] for every output position m and filter
 * tap k (= (wR·filterWidth + wC)·inChannels + c) that meets that pixel.
 */
export function col2imNhwc(cols: Float32Array, info: ConvInfo, dx: Float32Array): void {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowLen = filterHeight * filterWidth * inChannels;
  dx.fill(0);
  let row = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let yR = 0; yR < outHeight; yR++) {
      for (let yC = 0; yC < outWidth; yC++, row++) {
        const rowBase = row * rowLen;
        for (let wR = 0; wR < filterHeight; wR++) {
          const xR = yR * strideHeight + wR - top;
          if (xR < 0 || xR >= inHeight) continue;
          for (let wC = 0; wC < filterWidth; wC++) {
            const xC = yC * strideWidth + wC - left;
            if (xC < 0 || xC >= inWidth) continue;
            const dst = ((b * inHeight + xR) * inWidth + xC) * inChannels;
            const src = rowBase + (wR * filterWidth + wC) * inChannels;
            for (let c = 0; c < inChannels; c++) dx[dst + c]! += cols[src + c]!;
          }
        }
      }
    }
  }
}

/** dst[b][c][r] = src[b][r][c] for `batch` row-major rows×cols matrices. */
export function transposeMatrices(
  src: Float32Array,
  batch: number,
  rows: number,
  cols: number,
  dst: Float32Array,
): void {
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * size;
    for (let r = 0; r < rows; r++) {
      const s = base + r * cols;
      for (let c = 0; c < cols; c++) dst[base + c * rows + r] = src[s + c]!;
    }
  }
}

type Typed = Float32Array | Int32Array | Uint8Array;

/**
 * tf.tile by block copies: for each axis with reps > 1, innermost first, every block of that
 * axis and the ones inside it is repeated in place of itself. `out` has the tiled size.
 */
export function tileBlocks(x: Typed, shape: number[], reps: number[], out: Typed): void {
  let cur: Typed = x;
  const dims = [...shape];
  const axes = reps.map((r, a) => [r, a] as const).filter(([r]) => r > 1);
  if (axes.length === 0) {
    out.set(cur);
    return;
  }
  for (let i = axes.length - 1; i >= 0; i--) {
    const [r, axis] = axes[i]!;
    const block = dims.slice(axis).reduce((p, d) => p * d, 1);
    const outer = dims.slice(0, axis).reduce((p, d) => p * d, 1);
    const next: Typed =
      i === 0 ? out : new (cur.constructor as new (n: number) => Typed)(outer * block * r);
    for (let o = 0; o < outer; o++) {
      const src = cur.subarray(o * block, (o + 1) * block);
      for (let k = 0; k < r; k++) next.set(src, (o * r + k) * block);
    }
    dims[axis]! *= r;
    cur = next;
  }
}

type KernelFunc = (params: KernelParams) => TensorInfo;

interface Kernels {
  backend: WasmBackendView;
  params: KernelParams;
  matMul: KernelFunc;
}

/** Rank-3 float32 a·b with the backend's BatchMatMul, both untransposed (its transposed paths are naive loops). */
function product(k: Kernels, a: TensorInfo, b: TensorInfo): TensorInfo {
  return k.matMul({
    inputs: { a, b },
    backend: k.params.backend,
    attrs: { transposeA: false, transposeB: false },
  } as unknown as KernelParams);
}

/** A [batch, cols, rows] copy of a rank ≥ 2 tensor viewed as [batch, rows, cols]. */
function transposed(
  k: Kernels,
  t: TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): TensorInfo {
  const out = k.backend.makeOutput([batch, cols, rows], 'float32');
  transposeMatrices(
    k.backend.typedArrayFromHeap(t),
    batch,
    rows,
    cols,
    k.backend.typedArrayFromHeap(out),
  );
  return out;
}

function convInfo(
  tf: Tf,
  xShape: number[],
  attrs: FilterAttrs & { inputShape?: number[] },
): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

const NHWC_ONLY = (name: string): Error =>
  new Error(`${name} on wasm supports NHWC only; set FGL_TFJS_BACKEND=cpu for NCHW.`);

let installed = false;

/**
 * Makes tfjs-backend-wasm (v4.22) train CNNs and MLPs at XNNPACK speed:
 * - Conv2DBackpropFilter, which it lacks: dW = im2col(x)ᵀ · dy, the copy in JavaScript and the
 *   product on the backend's BatchMatMul.
 * - Conv2DBackpropInput, whose wasm kernel is a naive loop (12× its forward conv at 64 px):
 *   dx = col2im(dy · Wᵀ).
 * - BatchMatMul with transposeA/B (every dense layer's backward pass), whose wasm path is a naive
 *   loop (8–16× slower at 64×512×256): transpose in JavaScript, then the untransposed product.
 * - Tile (every broadcast in a reduction's gradient, e.g. batch-norm statistics), also a naive
 *   loop (0.5 s for [1,1,1,16] → [32,64,64,16]): block copies in JavaScript.
 * NHWC only (what tfjs-layers uses); NCHW throws a clear error.
 */
export function installWasmTrainingKernels(tf: Tf): void {
  if (installed) return;
  const matMulConfig = tf.getKernel('BatchMatMul', 'wasm');
  if (!matMulConfig) throw new Error('tfjs-backend-wasm has no BatchMatMul kernel registered.');
  const matMul = matMulConfig.kernelFunc as KernelFunc;
  const kernels = (params: KernelParams): Kernels => ({
    backend: params.backend as unknown as WasmBackendView,
    params,
    matMul,
  });

  const batchMatMul = (params: KernelParams): TensorInfo => {
    const { transposeA, transposeB } = params.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return matMul(params);
    const k = kernels(params);
    const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return matMul(params);
    const flat = (t: TensorInfo): [number, number, number] => {
      const r = t.shape.length;
      return [t.shape.slice(0, -2).reduce((p, d) => p * d, 1), t.shape[r - 2]!, t.shape[r - 1]!];
    };
    const temps: TensorInfo[] = [];
    const plain = (t: TensorInfo, transpose: boolean): TensorInfo => {
      if (!transpose) return t;
      const [n, rows, cols] = flat(t);
      const out = transposed(k, t, n, rows, cols);
      temps.push(out);
      return { ...out, shape: [...t.shape.slice(0, -2), cols, rows] };
    };
    try {
      return matMul({
        ...params,
        inputs: { a: plain(a, transposeA), b: plain(b, transposeB) },
        attrs: { ...params.attrs, transposeA: false, transposeB: false },
      } as unknown as KernelParams);
    } finally {
      temps.forEach((t) => k.backend.disposeData(t.dataId));
    }
  };

  const backpropFilter = (params: KernelParams): TensorInfo => {
    const attrs = params.attrs as unknown as FilterAttrs;
    if (attrs.dataFormat !== 'NHWC') throw NHWC_ONLY('Conv2DBackpropFilter');
    const k = kernels(params);
    const { x, dy } = params.inputs as { x: TensorInfo; dy: TensorInfo };
    const info = convInfo(tf, x.shape, attrs);
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const kk = info.filterHeight * info.filterWidth * info.inChannels;
    const pixels = info.batchSize * info.inHeight * info.inWidth;
    const xT = transposed(k, x, 1, pixels, info.inChannels);
    const colsT = k.backend.makeOutput([1, kk, rows], 'float32');
    try {
      im2colTNhwc(k.backend.typedArrayFromHeap(xT), info, k.backend.typedArrayFromHeap(colsT));
      const dw = product(k, colsT, { ...dy, shape: [1, rows, info.outChannels] });
      return { ...dw, shape: [...info.filterShape] };
    } finally {
      k.backend.disposeData(colsT.dataId);
      k.backend.disposeData(xT.dataId);
    }
  };

  const backpropInput = (params: KernelParams): TensorInfo => {
    const attrs = params.attrs as unknown as FilterAttrs & { inputShape: number[] };
    if (attrs.dataFormat !== 'NHWC') throw NHWC_ONLY('Conv2DBackpropInput');
    const k = kernels(params);
    const { dy, filter } = params.inputs as { dy: TensorInfo; filter: TensorInfo };
    const info = convInfo(tf, attrs.inputShape, {
      ...attrs,
      filterShape: filter.shape as FilterAttrs['filterShape'],
    });
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const kk = info.filterHeight * info.filterWidth * info.inChannels;
    const temps: TensorInfo[] = [];
    try {
      const wT = transposed(k, filter, 1, kk, info.outChannels); // [1, outChannels, kk]
      temps.push(wT);
      const dcols = product(k, { ...dy, shape: [1, rows, info.outChannels] }, wT);
      temps.push(dcols);
      const dx = k.backend.makeOutput([...attrs.inputShape], 'float32');
      col2imNhwc(k.backend.typedArrayFromHeap(dcols), info, k.backend.typedArrayFromHeap(dx));
      return dx;
    } finally {
      temps.forEach((t) => k.backend.disposeData(t.dataId));
    }
  };

  const replace = (kernelName: string, kernelFunc: KernelFunc): void => {
    const original = tf.getKernel(kernelName, 'wasm');
    if (original) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({
      ...(original ?? {}),
      kernelName,
      backendName: 'wasm',
      kernelFunc: kernelFunc as KernelConfig['kernelFunc'],
    });
  };
  const originalTile = tf.getKernel('Tile', 'wasm')?.kernelFunc as KernelFunc | undefined;
  const tile = (params: KernelParams): TensorInfo => {
    const k = kernels(params);
    const { x } = params.inputs as { x: TensorInfo };
    if (x.dtype === 'string' && originalTile) return originalTile(params);
    const { reps } = params.attrs as { reps: number[] };
    const out = k.backend.makeOutput(
      x.shape.map((d, i) => d * reps[i]!),
      x.dtype as 'float32',
    );
    tileBlocks(
      k.backend.typedArrayFromHeap(x) as Typed,
      x.shape,
      reps,
      k.backend.typedArrayFromHeap(out) as Typed,
    );
    return out;
  };

  replace('BatchMatMul', batchMatMul);
  replace('Tile', tile);
  replace('Conv2DBackpropFilter', backpropFilter);
  replace('Conv2DBackpropInput', backpropInput);
  installed = true;
}
