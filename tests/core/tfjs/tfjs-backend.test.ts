import type { Tensor4D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadTf } from '../../../src/core/tfjs/tfjs-backend';

describe('loadTf', () => {
  it('chooses the wasm backend here (tfjs-node-gpu is not installed) and logs one line saying why', async () => {
    const lines: string[] = [];
    const loaded = await loadTf((l) => lines.push(l));
    expect(loaded.backend).toBe('wasm');
    expect(loaded.tf.getBackend()).toBe('wasm');
    expect(lines).toEqual([loaded.message]);
    expect(loaded.message).toMatch(
      /^tfjs backend: wasm .*@tensorflow\/tfjs-node-gpu did not load: .*FGL_TFJS_BACKEND=cpu/,
    );
    // cached: a second call returns the same module and logs again for its own caller
    const again = await loadTf((l) => lines.push(l));
    expect(again.tf).toBe(loaded.tf);
    expect(lines).toHaveLength(2);
  });

  it('gives a tfjs that can train a convolution (tfjs-backend-wasm alone could not)', async () => {
    const { tf } = await loadTf();
    const w = tf.variable(tf.randomNormal([3, 3, 1, 2], 0, 1, 'float32', 1));
    const x = tf.randomNormal([1, 5, 5, 1], 0, 1, 'float32', 2) as Tensor4D;
    const g = tf.grad((k) =>
      tf
        .conv2d(x, k as Tensor4D, 1, 'same')
        .square()
        .sum(),
    )(w);
    expect(g.shape).toEqual([3, 3, 1, 2]);
    expect(Math.abs(g.sum().dataSync()[0]!)).toBeGreaterThan(0);
  });
});
