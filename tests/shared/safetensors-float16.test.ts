import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  float16ArrayToFloat32,
  float16BitsToFloat32,
  float32ArrayToFloat16,
  float32ToFloat16Bits,
} from '../../src/shared/float16';

const bitsOf = (v: number) => float32ToFloat16Bits(v).toString(16).padStart(4, '0');

describe('float32 -> float16 bits', () => {
  it.each([
    [0, '0000'],
    [-0, '8000'],
    [1, '3c00'],
    [-2, 'c000'],
    [0.5, '3800'],
    [0.1, '2e66'],
    [1 / 3, '3555'],
    [65504, '7bff'], // largest finite half
    [65519, '7bff'], // just below the halfway point to 65536
    [65520, '7c00'], // halfway: ties to even = 65536 = Inf
    [1e6, '7c00'],
    [-1e6, 'fc00'],
    [Infinity, '7c00'],
    [-Infinity, 'fc00'],
    [2 ** -14, '0400'], // smallest normal
    [1023 * 2 ** -24, '03ff'], // largest subnormal
    [2 ** -24, '0001'], // smallest subnormal
    [2 ** -25, '0000'], // halfway to the smallest subnormal: ties to even = 0
    [-(2 ** -25), '8000'],
    [2 ** -25 * 1.5, '0001'],
    [3 * 2 ** -25, '0002'], // halfway between 1 and 2 ulps: ties to even = 2
    [5 * 2 ** -25, '0002'], // halfway between 2 and 3 ulps: ties to even = 2
    [1 + 2 ** -11, '3c00'], // halfway between 1 and 1+2^-10: ties to even
    [1 + 3 * 2 ** -11, '3c02'],
    [1 + 2 ** -11 + 2 ** -20, '3c01'], // just above halfway rounds up
    [1023.5 * 2 ** -24, '0400'], // largest subnormal + half ulp: carries into the smallest normal
    [1e-8, '0000'],
  ])('%s -> 0x%s', (v, hex) => {
    expect(bitsOf(v)).toBe(hex);
  });

  it('keeps NaN a NaN, including NaNs whose payload is only in the low bits', () => {
    const h = float32ToFloat16Bits(NaN);
    expect(h & 0x7c00).toBe(0x7c00);
    expect(h & 0x3ff).not.toBe(0);
    const f = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]!; // signalling NaN, low payload
    expect(Number.isNaN(f)).toBe(true);
    const h2 = float32ToFloat16Bits(f);
    expect(h2 & 0x7c00).toBe(0x7c00);
    expect(h2 & 0x3ff).not.toBe(0);
  });
});

describe('float16 bits -> float32', () => {
  it.each([
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('0x%s -> %s', (h, v) => {
    expect(float16BitsToFloat32(h)).toBe(v);
  });
  it('decodes -0 and NaN', () => {
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
    expect(Number.isNaN(float16BitsToFloat32(0x7e00))).toBe(true);
    expect(Number.isNaN(float16BitsToFloat32(0xfc01))).toBe(true);
  });
  it('every finite half survives half -> float -> half exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ArrayToFloat16(float16ArrayToFloat32(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads need not survive
      if (back[h] !== h)
        throw new Error(`0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });
});

// Node 24 ships Float16Array (IEEE round-to-nearest-even); it is an independent reference.
type HalfArrayCtor = new (n: number) => { [i: number]: number; buffer: ArrayBuffer };
const NativeHalf = (globalThis as unknown as { Float16Array?: HalfArrayCtor }).Float16Array;

describe.runIf(NativeHalf !== undefined)('agrees with the runtime Float16Array', () => {
  it('on all 65,536 half bit patterns (decode)', () => {
    const native = new NativeHalf!(65536);
    const bits = new Uint16Array(native.buffer);
    for (let h = 0; h < 65536; h++) bits[h] = h;
    for (let h = 0; h < 65536; h++) {
      const a = float16BitsToFloat32(h);
      const b = native[h]!;
      if (!(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))))
        throw new Error(`0x${h.toString(16)}: ${a} vs ${b}`);
    }
  });
  it('on random float32 bit patterns (encode)', () => {
    const native = new NativeHalf!(1);
    const nativeBits = new Uint16Array(native.buffer);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
        u32[0] = x;
        const v = f32[0]!;
        native[0] = v;
        const ours = float32ToFloat16Bits(v);
        if (Number.isNaN(v)) return (ours & 0x7c00) === 0x7c00 && (ours & 0x3ff) !== 0;
        return ours === nativeBits[0];
      }),
      { numRuns: 20_000 },
    );
  });
  it('near the subnormal and overflow boundaries', () => {
    const native = new NativeHalf!(1);
    const nativeBits = new Uint16Array(native.buffer);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: -(2 ** -13), max: 2 ** -13, noNaN: true }),
          fc.double({ min: 65000, max: 66000 }),
        ),
        (d) => {
          const v = Math.fround(d);
          native[0] = v;
          return float32ToFloat16Bits(v) === nativeBits[0];
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
