import { describe, expect, it } from 'vitest';
import { normalizeEmbedding } from '../../../src/core/inference/embedding-rows';
import { l2Normalize, l2NormalizeVector } from '../../../src/core/tfjs/l2-normalize';

describe('l2NormalizeVector (the one L2 normalisation)', () => {
  it('returns v / ‖v‖ as a new float32 vector and leaves the input alone', () => {
    const v = Float32Array.from([3, 4, 0]);
    const out = l2NormalizeVector(v, 'zero');
    expect(Array.from(out)).toEqual([Math.fround(0.6), Math.fround(0.8), 0]);
    expect(out).not.toBe(v);
    expect(Array.from(v)).toEqual([3, 4, 0]);
  });

  it('sums in float64: the result matches an element-wise float64 division, bit for bit', () => {
    const v = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
    let s = 0;
    for (const x of v) s += x * x;
    const expected = Float32Array.from(v, (x) => x / Math.sqrt(s));
    expect(Buffer.from(l2NormalizeVector(v, 'throw').buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    expect(Buffer.from(l2Normalize(v).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it("'zero' keeps a zero vector zero (probe features, evaluation, prepare's prompt mean)", () => {
    expect(Array.from(l2Normalize(new Float32Array(4)))).toEqual([0, 0, 0, 0]);
  });

  it("'throw' refuses a zero or non-finite vector (CLIP adapter outputs)", () => {
    expect(() => normalizeEmbedding(new Float32Array(4))).toThrow(/Cannot normalise an embedding with norm 0/);
    expect(() => normalizeEmbedding(Float32Array.from([1, NaN]))).toThrow(/norm NaN/);
    expect(() => normalizeEmbedding(Float32Array.from([1, Infinity]))).toThrow(/norm Infinity/);
  });
});
