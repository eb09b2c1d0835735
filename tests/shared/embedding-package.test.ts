import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../src/shared/float16';
import {
  CONDITIONING_TOKENS,
  decodePackage,
  encodePackage,
  PackageError,
  type EncodePackageInput,
} from '../../src/shared/embedding-package';
import { metadataToStrings, PackageMetadata } from '../../src/shared/package-format';
import { SafetensorsError, writeSafetensors, type TensorInput } from '../../src/shared/safetensors';

const metadata = PackageMetadata.parse({
  format: 'fgl-embedding-package',
  format_version: '1',
  study_id: 'chest-xray',
  site_id: 'site-a',
  encoder_id: 'stabilityai/sd-turbo',
  encoder_sha256: 'ab'.repeat(32),
  prompt_mode: 'class',
  aggregation: 'cluster',
  k: '5',
  dp_epsilon: '1.5',
  dp_delta: '1e-5',
  app_version: '0.1.0',
  created_at: '2025-01-02T03:04:05Z',
});

function input(n = 3, dim = 8, dtype: 'F16' | 'F32' = 'F32'): EncodePackageInput {
  const conditioning = new Float32Array(n * CONDITIONING_TOKENS * dim);
  for (let i = 0; i < conditioning.length; i++) conditioning[i] = Math.sin(i * 0.37) * 3;
  return {
    metadata,
    conditioning,
    n,
    dim,
    dtype,
    labels: new Int32Array(n).map((_, i) => i % 2),
    counts: new Int32Array(n).map((_, i) => 5 + i),
  };
}

function expectCode(fn: () => unknown, code: string): PackageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PackageError);
    expect((e as PackageError).code).toBe(code);
    return e as PackageError;
  }
  throw new Error(`expected PackageError ${code}, nothing was thrown`);
}

/** Write a package by hand (bypassing encodePackage's checks) to test the decoder. */
function handMade(
  tensors: Record<string, TensorInput>,
  meta: Record<string, string> = metadataToStrings(metadata),
): Uint8Array {
  return writeSafetensors(tensors, meta);
}
function baseTensors(n = 2, dim = 4): Record<string, TensorInput> {
  return {
    conditioning: {
      dtype: 'F32',
      shape: [n, 77, dim],
      data: new Float32Array(n * 77 * dim).fill(0.5),
    },
    labels: { dtype: 'I32', shape: [n], data: new Int32Array(n) },
    counts: { dtype: 'I32', shape: [n], data: new Int32Array(n).fill(3) },
  };
}

describe('encodePackage / decodePackage', () => {
  it('round-trips F32 exactly', () => {
    const p = input(3, 8, 'F32');
    const out = decodePackage(encodePackage(p));
    expect(out.n).toBe(3);
    expect(out.dim).toBe(8);
    expect(out.dtype).toBe('F32');
    expect(out.conditioning).toEqual(p.conditioning);
    expect(Array.from(out.labels)).toEqual([0, 1, 0]);
    expect(Array.from(out.counts)).toEqual([5, 6, 7]);
    expect(out.metadata).toEqual(metadata);
    expect(out.metadata.k).toBe(5);
    expect(out.metadata.dp_clip).toBeNull();
  });

  it('round-trips F16 to the nearest half value, at half the size', () => {
    const p = input(2, 16, 'F16');
    const bytes16 = encodePackage(p);
    const bytes32 = encodePackage({ ...p, dtype: 'F32' });
    expect(bytes16.length).toBeLessThan(bytes32.length * 0.6);
    const out = decodePackage(bytes16);
    expect(out.dtype).toBe('F16');
    for (let i = 0; i < p.conditioning.length; i++) {
      const want = float16BitsToFloat32(float32ToFloat16Bits(p.conditioning[i]!));
      if (out.conditioning[i] !== want)
        throw new Error(`value ${i}: ${out.conditioning[i]} != ${want}`);
      if (Math.abs(out.conditioning[i]! - p.conditioning[i]!) > 3 * 2 ** -11)
        throw new Error(`value ${i} too far`);
    }
  });

  it('refuses to write what it would refuse to read', () => {
    expectCode(
      () =>
        encodePackage({
          ...input(),
          n: 0,
          conditioning: new Float32Array(0),
          labels: new Int32Array(0),
          counts: new Int32Array(0),
        }),
      'empty',
    );
    expectCode(() => encodePackage({ ...input(), dim: 7 }), 'bad_shape');
    expectCode(() => encodePackage({ ...input(), labels: new Int32Array(2) }), 'bad_shape');
    expectCode(() => encodePackage({ ...input(), counts: new Int32Array([1, 0, 1]) }), 'bad_count');
    expectCode(
      () => encodePackage({ ...input(), labels: new Int32Array([0, -1, 0]) }),
      'bad_label',
    );
    const nan = input();
    nan.conditioning[2 * 77 * 8 + 5] = NaN;
    expect(expectCode(() => encodePackage(nan), 'non_finite').message).toContain('row 2');
    const big = input(3, 8, 'F16');
    big.conditioning[77 * 8] = 1e5; // finite in f32, Inf in f16
    expect(expectCode(() => encodePackage(big), 'non_finite').message).toContain('row 1');
    expectCode(
      () => encodePackage({ ...input(), metadata: { ...metadata, study_id: '' } }),
      'bad_metadata',
    );
  });
});

describe('decodePackage rejects', () => {
  it('a baseline hand-made package decodes', () => {
    expect(decodePackage(handMade(baseTensors())).n).toBe(2);
  });
  it('damaged safetensors, keeping the safetensors code and cause', () => {
    const bytes = encodePackage(input());
    const err = expectCode(() => decodePackage(bytes.subarray(0, bytes.length - 1)), 'bad_offsets');
    expect(err.cause).toBeInstanceOf(SafetensorsError);
    expect(err.message).toContain('"counts"');
    const appended = new Uint8Array(bytes.length + 1);
    appended.set(bytes);
    expectCode(() => decodePackage(appended), 'unindexed_bytes');
    expectCode(() => decodePackage(bytes.subarray(0, 5)), 'truncated');
    expectCode(() => decodePackage(bytes, { maxHeaderBytes: 64 }), 'header_too_large');
  });
  it('missing or extra tensors -> wrong_tensors', () => {
    const { counts: _c, ...noCounts } = baseTensors();
    expect(expectCode(() => decodePackage(handMade(noCounts)), 'wrong_tensors').message).toContain(
      'missing counts',
    );
    const extra = {
      ...baseTensors(),
      clip: { dtype: 'F32' as const, shape: [1], data: new Float32Array(1) },
    };
    expect(expectCode(() => decodePackage(handMade(extra)), 'wrong_tensors').message).toContain(
      '"clip"',
    );
  });
  it('wrong dtypes -> bad_dtype', () => {
    const t = baseTensors();
    expectCode(
      () =>
        decodePackage(
          handMade({
            ...t,
            conditioning: { dtype: 'I32', shape: [2, 77, 4], data: new Int32Array(2 * 77 * 4) },
          }),
        ),
      'bad_dtype',
    );
    expectCode(
      () =>
        decodePackage(
          handMade({ ...t, labels: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }),
        ),
      'bad_dtype',
    );
    expectCode(
      () =>
        decodePackage(
          handMade({ ...t, counts: { dtype: 'F16', shape: [2], data: new Uint16Array(2) } }),
        ),
      'bad_dtype',
    );
  });
  it('wrong shapes -> bad_shape', () => {
    const t = baseTensors();
    expect(
      expectCode(
        () =>
          decodePackage(
            handMade({
              ...t,
              conditioning: { dtype: 'F32', shape: [2, 76, 4], data: new Float32Array(2 * 76 * 4) },
            }),
          ),
        'bad_shape',
      ).message,
    ).toContain('[2, 76, 4]');
    expectCode(
      () =>
        decodePackage(
          handMade({
            ...t,
            conditioning: { dtype: 'F32', shape: [2 * 77 * 4], data: new Float32Array(2 * 77 * 4) },
          }),
        ),
      'bad_shape',
    );
    expectCode(
      () =>
        decodePackage(
          handMade({
            ...t,
            conditioning: { dtype: 'F32', shape: [2, 77, 0], data: new Float32Array(0) },
          }),
        ),
      'bad_shape',
    );
    expectCode(
      () =>
        decodePackage(
          handMade({ ...t, labels: { dtype: 'I32', shape: [3], data: new Int32Array(3) } }),
        ),
      'bad_shape',
    );
    expectCode(
      () =>
        decodePackage(
          handMade({
            ...t,
            counts: { dtype: 'I32', shape: [2, 1], data: new Int32Array(2).fill(1) },
          }),
        ),
      'bad_shape',
    );
  });
  it('no rows -> empty', () => {
    expectCode(() => decodePackage(handMade(baseTensors(0))), 'empty');
  });
  it('NaN / Inf conditioning -> non_finite naming the row', () => {
    const t = baseTensors(3, 4);
    (t.conditioning!.data as Float32Array)[2 * 77 * 4 + 9] = Infinity;
    expect(expectCode(() => decodePackage(handMade(t)), 'non_finite').message).toMatch(
      /^row 2: .* token 2, channel 1/,
    );
    const h = baseTensors(3, 4);
    const bits = new Uint16Array(3 * 77 * 4).fill(0x3c00);
    bits[77 * 4] = 0x7e00; // NaN in row 1
    h.conditioning = { dtype: 'F16', shape: [3, 77, 4], data: bits };
    expect(expectCode(() => decodePackage(handMade(h)), 'non_finite').message).toMatch(/^row 1:/);
  });
  it('counts < 1 -> bad_count; labels < 0 -> bad_label', () => {
    const t = baseTensors();
    expect(
      expectCode(
        () =>
          decodePackage(
            handMade({ ...t, counts: { dtype: 'I32', shape: [2], data: new Int32Array([1, 0]) } }),
          ),
        'bad_count',
      ).message,
    ).toContain('row 1');
    expectCode(
      () =>
        decodePackage(
          handMade({ ...t, labels: { dtype: 'I32', shape: [2], data: new Int32Array([-3, 0]) } }),
        ),
      'bad_label',
    );
  });
  it('invalid metadata -> bad_metadata with a readable message', () => {
    const meta = { ...metadataToStrings(metadata), encoder_sha256: 'nope', k: 'five' };
    const err = expectCode(() => decodePackage(handMade(baseTensors(), meta)), 'bad_metadata');
    expect(err.message).toContain('encoder_sha256');
    expect(err.message).toContain('k:');
    expect(err.hint).toBeTruthy();
    expectCode(() => decodePackage(handMade(baseTensors(), {})), 'bad_metadata');
  });
});

describe('fuzz: damaged packages only ever raise PackageError', () => {
  const valid = encodePackage(input(2, 4, 'F16'));
  const headerEnd = Number(new DataView(valid.buffer).getBigUint64(0, true)) + 8;

  function decodeOrPackageError(bytes: Uint8Array): void {
    try {
      const p = decodePackage(bytes);
      // Whatever decodes must satisfy the invariants the decoder promises.
      expect(p.conditioning.length).toBe(p.n * 77 * p.dim);
      expect(p.conditioning.every(Number.isFinite)).toBe(true);
      expect(p.counts.every((c) => c >= 1)).toBe(true);
    } catch (e) {
      if (!(e instanceof PackageError)) throw e;
    }
  }

  it('random byte mutations', () => {
    const idx = fc.oneof(
      fc.integer({ min: 0, max: headerEnd - 1 }),
      fc.integer({ min: 0, max: valid.length - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(idx, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (muts) => {
          const b = valid.slice();
          for (const [i, v] of muts) b[i] = v;
          decodeOrPackageError(b);
        },
      ),
      { numRuns: 2000 },
    );
  });
  it('random truncations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), (cut) => {
        expect(() => decodePackage(valid.subarray(0, cut))).toThrow(PackageError);
      }),
      { numRuns: 2000 },
    );
  });
});
