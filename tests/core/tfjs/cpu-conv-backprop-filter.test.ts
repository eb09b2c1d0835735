import type { Tensor4D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { useJsBackend } from '../../../src/core/tfjs/tfjs-backend';

/** dW[wr, wc, i, o] = Σ_b,r,c x[b, r·s + wr − pt, c·s + wc − pl, i] · dy[b, r, c, o], straight from the definition. */
function referenceDw(
  x: Float32Array,
  xs: number[],
  dy: Float32Array,
  ys: number[],
  k: number,
  stride: number,
  padTop: number,
  padLeft: number,
): Float32Array {
  const [B, H, W, I] = xs as [number, number, number, number];
  const [, OH, OW, O] = ys as [number, number, number, number];
  const dW = new Float32Array(k * k * I * O);
  for (let wr = 0; wr < k; wr++)
    for (let wc = 0; wc < k; wc++)
      for (let i = 0; i < I; i++)
        for (let o = 0; o < O; o++) {
          let s = 0;
          for (let b = 0; b < B; b++)
            for (let r = 0; r < OH; r++)
              for (let c = 0; c < OW; c++) {
                const xr = r * stride + wr - padTop;
                const xc = c * stride + wc - padLeft;
                if (xr >= 0 && xr < H && xc >= 0 && xc < W)
                  s += x[((b * H + xr) * W + xc) * I + i]! * dy[((b * OH + r) * OW + c) * O + o]!;
              }
          dW[((wr * k + wc) * I + i) * O + o] = s;
        }
  return dW;
}

describe.each(['cpu', 'wasm'] as const)(
  'the %s Conv2DBackpropFilter kernel we install',
  (backend) => {
    const cases = [
      { k: 3, stride: 1, pad: 'same' as const, hw: [7, 6] },
      { k: 3, stride: 2, pad: 'same' as const, hw: [8, 8] },
      { k: 7, stride: 2, pad: 'same' as const, hw: [9, 11] },
      { k: 1, stride: 2, pad: 'valid' as const, hw: [6, 6] },
      { k: 3, stride: 1, pad: 'valid' as const, hw: [5, 7] },
    ];
    for (const { k, stride, pad, hw } of cases) {
      it(`matches the definition for k=${k} stride=${stride} pad=${pad} input ${hw.join('x')}`, async () => {
        const { tf } = await useJsBackend(backend);
        const xs: [number, number, number, number] = [2, hw[0]!, hw[1]!, 3];
        const x = tf.randomNormal(xs, 0, 1, 'float32', 11) as Tensor4D;
        const y = tf.conv2d(x, tf.zeros([k, k, 3, 5]) as Tensor4D, stride, pad);
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 12) as Tensor4D;
        // d/dW Σ conv2d(x, W)·dy is exactly Conv2DBackpropFilter(x, dy)
        const grad = tf.grad((w) =>
          tf
            .conv2d(x, w as Tensor4D, stride, pad)
            .mul(dy)
            .sum(),
        )(tf.zeros([k, k, 3, 5]));
        const info = tf.backend_util.computeConv2DInfo(xs, [k, k, 3, 5], stride, 1, pad);
        const want = referenceDw(
          x.dataSync() as Float32Array,
          xs,
          dy.dataSync() as Float32Array,
          y.shape,
          k,
          stride,
          info.padInfo.top,
          info.padInfo.left,
        );
        const values = grad.dataSync();
        expect(values.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) expect(values[i]!).toBeCloseTo(want[i]!, 3);
      });
    }
  },
);
