import { describe, expect, it } from 'vitest';
import {
  classifierFreeGuidance,
  usesGuidance,
} from '../../../src/server/synthesis/classifier-free-guidance';
import { decodedToRgb } from '../../../src/server/synthesis/decoded-to-rgb';
import { floatFeed, timestepFeed } from '../../../src/server/synthesis/ort-feeds';

describe('decodedToRgb', () => {
  it('maps [-1, 1] to 0..255 as diffusers does, clamps, and turns CHW into HWC', () => {
    // 1×2 image: pixel 0 = (-1, 0, 1), pixel 1 = (2, -3, NaN).
    const chw = Float32Array.of(-1, 2, 0, -3, 1, NaN);
    expect([...decodedToRgb(chw, 1, 2)]).toEqual([0, 128, 255, 255, 0, 0]);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => decodedToRgb(new Float32Array(5), 1, 2)).toThrow(/expected 3 × 1 × 2/);
  });
});

describe('classifierFreeGuidance', () => {
  it('is uncond + g (cond - uncond), and only applies above 1', () => {
    expect([...classifierFreeGuidance(Float32Array.of(1, -2), Float32Array.of(3, 2), 2)]).toEqual([
      5, 6,
    ]);
    expect([...classifierFreeGuidance(Float32Array.of(1, -2), Float32Array.of(3, 2), 1)]).toEqual([
      3, 2,
    ]);
    expect([usesGuidance(0), usesGuidance(1), usesGuidance(1.01), usesGuidance(7.5)]).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });
});

describe('timestepFeed', () => {
  it('follows the declared dtype and shape', () => {
    const vec = timestepFeed(981, 'float32', ['batch'], 4);
    expect([vec.type, vec.dims, [...(vec.data as Float32Array)]]).toEqual([
      'float32',
      [4],
      [981, 981, 981, 981],
    ]);
    const one = timestepFeed(981, 'int64', [1], 4);
    expect([one.type, one.dims, one.data]).toEqual(['int64', [1], BigInt64Array.of(981n)]);
    const scalar = timestepFeed(980.6, 'int64', [], 2);
    expect([scalar.dims, scalar.data]).toEqual([[], BigInt64Array.of(981n)]);
    const half = timestepFeed(999, 'float16', ['steps'], 2);
    expect([half.type, half.dims, half.data instanceof Uint16Array]).toEqual([
      'float16',
      [2],
      true,
    ]);
    expect([...(half.data as Uint16Array)]).toEqual([0x63ce, 0x63ce]); // 999 in binary16
  });

  it('refuses shapes and types it cannot honour', () => {
    expect(() => timestepFeed(1, 'float32', [3], 2)).toThrow(/fixed size 3/);
    expect(() => timestepFeed(1, 'string', ['batch'], 2)).toThrow(/timestep input is string/);
    expect(() => floatFeed(new Float32Array(1), 'int32', [1], 'sample')).toThrow(
      /sample input is int32/,
    );
  });
});
