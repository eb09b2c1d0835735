import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONDITIONING_TOKENS,
  createPackageEncoder,
  decodePackage,
  encodePackage,
  PackageError,
  type EncodePackageInput,
  type PackageEncoder,
} from '../../src/shared/embedding-package';
import { PackageMetadata } from '../../src/shared/package-format';
import {
  littleEndianBytes,
  safetensorsHeader,
  SafetensorsError,
  writeSafetensors,
} from '../../src/shared/safetensors';

const metadata = PackageMetadata.parse({
  format: 'fgl-embedding-package',
  format_version: '1',
  study_id: 'chest-xray',
  site_id: 'site-a',
  encoder_id: 'stabilityai/sd-turbo',
  encoder_sha256: 'cd'.repeat(32),
  prompt_mode: 'class',
  aggregation: 'cluster',
  k: '5',
  dp_epsilon: '0.75',
  dp_delta: '1e-5',
  dp_clip: '280.5',
  dp_sigma: '0.0123',
  app_version: '0.1.0',
  created_at: '2026-11-24T03:04:05Z',
});

function input(n: number, dim: number, dtype: 'F16' | 'F32', seed = 1): EncodePackageInput {
  const conditioning = new Float32Array(n * CONDITIONING_TOKENS * dim);
  for (let i = 0; i < conditioning.length; i++)
    conditioning[i] = Math.sin(i * 0.37 + seed) * 3 + (i % 7) * 1e-4;
  return {
    metadata,
    conditioning,
    n,
    dim,
    dtype,
    labels: new Int32Array(n).map((_, i) => (i * 3) % 4),
    counts: new Int32Array(n).map((_, i) => 5 + i),
  };
}

/** Header, each row (copied: the encoder reuses its row buffer), trailer, concatenated. */
function streamed(p: EncodePackageInput): Uint8Array {
  const perRow = CONDITIONING_TOKENS * p.dim;
  const enc = createPackageEncoder(p);
  const parts = [enc.header];
  for (let r = 0; r < p.n; r++)
    parts.push(enc.encodeRow(p.conditioning.subarray(r * perRow, (r + 1) * perRow)).slice());
  parts.push(enc.trailer());
  const out = new Uint8Array(enc.byteLength);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  expect(at).toBe(enc.byteLength);
  return out;
}

function errorOf(fn: () => unknown): PackageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PackageError);
    return e as PackageError;
  }
  throw new Error('expected a PackageError, nothing was thrown');
}

describe('createPackageEncoder: the package piece by piece', () => {
  it('is byte-identical to encodePackage (F16 and F32, several sizes)', () => {
    for (const dtype of ['F16', 'F32'] as const) {
      for (const [n, dim] of [
        [1, 1],
        [3, 8],
        [5, 64],
        [2, 1024],
      ] as const) {
        const p = input(n, dim, dtype, n + dim);
        expect(Buffer.from(streamed(p)).equals(Buffer.from(encodePackage(p)))).toBe(true);
      }
    }
  });

  it('is byte-identical for any rows, labels and counts (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom('F16' as const, 'F32' as const),
        fc.integer({ min: 0, max: 1000 }),
        (n, dim, dtype, seed) => {
          const p = input(n, dim, dtype, seed);
          return Buffer.from(streamed(p)).equals(Buffer.from(encodePackage(p)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('round-trips through decodePackage', () => {
    const p = input(3, 16, 'F16');
    const back = decodePackage(streamed(p));
    expect(back.n).toBe(3);
    expect([...back.labels]).toEqual([...p.labels]);
    expect([...back.counts]).toEqual([...p.counts]);
    expect(back.metadata.dp_sigma).toBe(0.0123);
  });

  it('rejects what encodePackage rejects, with the same messages', () => {
    const cases: Partial<EncodePackageInput>[] = [
      { n: 0 },
      { dim: 0 },
      { dtype: 'BF16' as 'F16' },
      { labels: new Int32Array(2) },
      { counts: Int32Array.from([1, 0, 2]) },
      { labels: Int32Array.from([0, -1, 2]) },
      { metadata: { ...metadata, k: -1 } },
    ];
    for (const over of cases) {
      const p = { ...input(3, 4, 'F16'), ...over };
      const a = errorOf(() => encodePackage(p));
      const b = errorOf(() => createPackageEncoder(p));
      expect([b.code, b.message]).toEqual([a.code, a.message]);
    }
  });

  it('names the row, token and channel of a non-finite value, as encodePackage does', () => {
    for (const [dtype, bad] of [
      ['F16', 70000],
      ['F32', Number.NaN],
    ] as const) {
      const p = input(3, 4, dtype);
      p.conditioning[2 * CONDITIONING_TOKENS * 4 + 13] = bad;
      const a = errorOf(() => encodePackage(p));
      const b = errorOf(() => streamed(p));
      expect(b.code).toBe('non_finite');
      expect(b.message).toBe(a.message);
      expect(b.message).toMatch(/^row 2: .* token 3, channel 1/);
    }
  });

  it('refuses a row of the wrong length, a row too many, and a trailer before the last row', () => {
    const p = input(2, 4, 'F32');
    const row = p.conditioning.subarray(0, CONDITIONING_TOKENS * 4);
    const enc: PackageEncoder = createPackageEncoder(p);
    expect(errorOf(() => enc.encodeRow(new Float32Array(5))).message).toMatch(/row 0 has 5 values/);
    enc.encodeRow(row);
    expect(errorOf(() => enc.trailer()).message).toMatch(/only 1 of the 2/);
    enc.encodeRow(row);
    expect(errorOf(() => enc.encodeRow(row)).message).toMatch(/one more than the 2 rows/);
    expect(enc.trailer()).toHaveLength(16);
  });

  it('keeps the labels and counts it validated even if the caller changes its arrays mid-stream', () => {
    const p = input(1, 2, 'F16');
    const expected = encodePackage(p);
    const enc = createPackageEncoder(p);
    p.labels[0] = 99;
    const row = enc.encodeRow(p.conditioning).slice();
    const got = Buffer.concat([enc.header, row, enc.trailer()]);
    expect(got.equals(Buffer.from(expected))).toBe(true);
  });
});

describe('safetensorsHeader + littleEndianBytes', () => {
  it('header followed by each tensor’s bytes is writeSafetensors’ output', () => {
    const a = Float32Array.from([1.5, -2, 3.25]);
    const b = Int32Array.from([7, -8]);
    const c = Uint16Array.from([0x3c00, 0xc000, 1, 2]);
    const meta = { note: 'hello', other: 'ü ∑' };
    const whole = writeSafetensors(
      {
        a: { dtype: 'F32', shape: [3], data: a },
        b: { dtype: 'I32', shape: [2, 1], data: b },
        c: { dtype: 'F16', shape: [2, 2], data: c },
      },
      meta,
    );
    const { header, dataBytes } = safetensorsHeader(
      [
        { name: 'a', dtype: 'F32', shape: [3] },
        { name: 'b', dtype: 'I32', shape: [2, 1] },
        { name: 'c', dtype: 'F16', shape: [2, 2] },
      ],
      meta,
    );
    expect(dataBytes).toBe(12 + 8 + 8);
    const pieces = Buffer.concat([
      header,
      littleEndianBytes(a),
      littleEndianBytes(b),
      littleEndianBytes(c),
    ]);
    expect(pieces.equals(Buffer.from(whole))).toBe(true);
    // Without metadata too.
    const bare = writeSafetensors({ a: { dtype: 'F32', shape: [3], data: a } });
    const h = safetensorsHeader([{ name: 'a', dtype: 'F32', shape: [3] }]).header;
    expect(Buffer.concat([h, littleEndianBytes(a)]).equals(Buffer.from(bare))).toBe(true);
  });

  it('refuses bad names, shapes, dtypes and metadata', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(SafetensorsError);
        return (e as SafetensorsError).code;
      }
      return 'none';
    };
    expect(
      codeOf(() => safetensorsHeader([{ name: '__metadata__', dtype: 'F32', shape: [1] }])),
    ).toBe('bad_input');
    expect(
      codeOf(() =>
        safetensorsHeader([
          { name: 'x', dtype: 'F32', shape: [1] },
          { name: 'x', dtype: 'F32', shape: [1] },
        ]),
      ),
    ).toBe('bad_input');
    expect(codeOf(() => safetensorsHeader([{ name: 'x', dtype: 'F32', shape: [-1] }]))).toBe(
      'bad_shape',
    );
    expect(codeOf(() => safetensorsHeader([{ name: 'x', dtype: 'U8' as 'F32', shape: [1] }]))).toBe(
      'unknown_dtype',
    );
    expect(codeOf(() => safetensorsHeader([], { k: 5 as unknown as string }))).toBe('bad_metadata');
  });
});
