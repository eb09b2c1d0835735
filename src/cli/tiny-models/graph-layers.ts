import type { OnnxGraph } from './onnx-graph';
import type { SeededRandom } from './seeded-random';

/** x @ W (+ b), W ~ N(0, gain² / inDim) so activations keep roughly unit scale. */
export function dense(
  g: OnnxGraph,
  rng: SeededRandom,
  x: string,
  inDim: number,
  outDim: number,
  opts: { gain?: number; bias?: boolean; hint?: string } = {},
): string {
  const w = g.floatTensor(
    `${opts.hint ?? 'dense'}_w`,
    [inDim, outDim],
    rng.normals(inDim * outDim, (opts.gain ?? 1) / Math.sqrt(inDim)),
  );
  const y = g.op('MatMul', [x, w]);
  if (opts.bias === false) return y;
  return g.op('Add', [
    y,
    g.floatTensor(`${opts.hint ?? 'dense'}_b`, [outDim], rng.normals(outDim, 0.02)),
  ]);
}

/** A square conv with 'same' padding for odd kernels (or `stride`-sized patches when pad = 0). */
export function conv2d(
  g: OnnxGraph,
  rng: SeededRandom,
  x: string,
  inCh: number,
  outCh: number,
  opts: { kernel?: number; stride?: number; pad?: number; gain?: number; hint?: string } = {},
): string {
  const k = opts.kernel ?? 3;
  const pad = opts.pad ?? (k - 1) / 2;
  const fanIn = inCh * k * k;
  const w = g.floatTensor(
    `${opts.hint ?? 'conv'}_w`,
    [outCh, inCh, k, k],
    rng.normals(outCh * fanIn, (opts.gain ?? 1) / Math.sqrt(fanIn)),
  );
  const b = g.floatTensor(`${opts.hint ?? 'conv'}_b`, [outCh], rng.normals(outCh, 0.02));
  return g.op('Conv', [x, w, b], {
    kernel_shape: { ints: [k, k] },
    strides: { ints: [opts.stride ?? 1, opts.stride ?? 1] },
    pads: { ints: [pad, pad, pad, pad] },
  });
}

/** SiLU (x · sigmoid x), the activation SD's UNet and VAE use. */
export function silu(g: OnnxGraph, x: string): string {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}
