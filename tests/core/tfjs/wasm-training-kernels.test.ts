import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { useJsBackend } from '../../../src/core/tfjs/tfjs-backend';

// The wasm kernels of src/core/tfjs/wasm-training-kernels.ts against tfjs's own cpu kernels on
// the same inputs: the gradients of a convolution (both), matMul with every transpose flag, tile.
async function onBoth(
  f: (tf: Awaited<ReturnType<typeof useJsBackend>>['tf']) => Tensor[],
): Promise<[number[][], number[][]]> {
  const out: number[][][] = [];
  for (const backend of ['wasm', 'cpu'] as const) {
    const { tf } = await useJsBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    out.push(f(tf).map((t) => Array.from(t.dataSync())));
  }
  return [out[0]!, out[1]!];
}

function expectClose(got: number[][], want: number[][]): void {
  expect(got.map((g) => g.length)).toEqual(want.map((w) => w.length));
  got.forEach((g, k) => g.forEach((v, i) => expect(v).toBeCloseTo(want[k]![i]!, 3)));
}

type Shape4 = [number, number, number, number];

const filled = (n: number, f: (i: number) => number) =>
  Float32Array.from({ length: n }, (_, i) => f(i));

describe('wasm training kernels match the cpu backend', () => {
  const convs = [
    { x: [2, 9, 9, 3], w: [3, 3, 3, 5], stride: 1, pad: 'same' as const },
    { x: [2, 9, 9, 4], w: [3, 3, 4, 6], stride: 2, pad: 'same' as const },
    { x: [2, 8, 8, 4], w: [1, 1, 4, 6], stride: 2, pad: 'same' as const },
    { x: [1, 7, 7, 2], w: [7, 7, 2, 3], stride: 2, pad: 'same' as const },
    { x: [2, 6, 6, 3], w: [3, 3, 3, 2], stride: 1, pad: 'valid' as const },
  ];
  for (const c of convs) {
    it(`conv2d gradients (dx and dW): x ${c.x.join('x')}, filter ${c.w.join('x')}, stride ${c.stride}, ${c.pad}`, async () => {
      const [wasm, cpu] = await onBoth((tf) => {
        const x = tf.tensor(
          filled(
            c.x.reduce((a, b) => a * b),
            Math.sin,
          ),
          c.x as Shape4,
        ) as Tensor4D;
        const w = tf.tensor(
          filled(
            c.w.reduce((a, b) => a * b),
            (i) => Math.cos(i * 0.7),
          ),
          c.w as Shape4,
        ) as Tensor4D;
        return tf.grads((a, b) =>
          tf
            .conv2d(a as Tensor4D, b as Tensor4D, c.stride, c.pad)
            .square()
            .sum(),
        )([x, w]);
      });
      expectClose(wasm, cpu);
    });
  }

  it('matMul with each transpose flag, rank 2 and batched', async () => {
    const [wasm, cpu] = await onBoth((tf) => {
      const a = tf.tensor2d(
        filled(6, (i) => i + 1),
        [2, 3],
      );
      const b = tf.tensor2d(
        filled(6, (i) => (i % 3) - 1),
        [3, 2],
      );
      const a3 = tf.tensor3d(filled(24, Math.sin), [2, 3, 4]);
      const b3 = tf.tensor3d(filled(24, Math.cos), [2, 3, 4]);
      return [
        tf.matMul(a, b),
        tf.matMul(a, a, true, false),
        tf.matMul(a, a, false, true),
        tf.matMul(b, a, true, true),
        tf.matMul(a3, b3, true, false),
        tf.matMul(a3, b3, false, true),
      ];
    });
    expectClose(wasm, cpu);
  });

  it('tile, float32 and int32, broadcast-like and general', async () => {
    const cases: [number[], number[]][] = [
      [
        [1, 1, 1, 3],
        [2, 3, 4, 1],
      ],
      [
        [2, 3],
        [3, 2],
      ],
      [
        [2, 1, 3],
        [1, 4, 1],
      ],
      [[3], [1]],
    ];
    const [wasm, cpu] = await onBoth((tf) =>
      cases.flatMap(([shape, reps]) => {
        const n = shape.reduce((a, b) => a * b);
        return [
          tf.tile(tf.range(0, n).reshape(shape), reps),
          tf.tile(tf.range(0, n, 1, 'int32').reshape(shape), reps),
        ];
      }),
    );
    expect(wasm).toEqual(cpu);
  });
});
