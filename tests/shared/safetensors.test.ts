import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseSafetensorsHeader,
  readSafetensors,
  SafetensorsError,
  safetensorsHeaderLength,
  tensorToFloat16Bits,
  tensorToFloat32,
  tensorToInt32,
  writeSafetensors,
} from '../../src/shared/safetensors';

const enc = new TextEncoder();

/** Build a file by hand: 8-byte LE length, the header text as given (no padding), then data. */
function rawFile(header: string | object, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = enc.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectCode(fn: () => unknown, code: string): SafetensorsError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    const err = e as SafetensorsError;
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
    return err;
  }
  throw new Error(`expected SafetensorsError ${code}, nothing was thrown`);
}

describe('writeSafetensors / readSafetensors round trip', () => {
  it('round-trips F32, F16 (from floats and raw bits) and I32 with metadata', () => {
    const f32 = new Float32Array([1.5, -2.25, 3e-8, 1e30, 0, -0]);
    const f16src = new Float32Array([1, 0.1, -65504, 2 ** -24]);
    const raw16 = new Uint16Array([0x3c00, 0xc000, 0x7bff]);
    const i32 = new Int32Array([0, -1, 2147483647, -2147483648]);
    const bytes = writeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 3], data: f32 },
        h: { dtype: 'F16', shape: [4], data: f16src },
        raw: { dtype: 'F16', shape: [3, 1], data: raw16 },
        ints: { dtype: 'I32', shape: [2, 2], data: i32 },
        empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
      },
      { study_id: 'x', note: 'ünïcødé ✓' },
    );
    const file = readSafetensors(bytes);
    expect({ ...file.metadata }).toEqual({ study_id: 'x', note: 'ünïcødé ✓' });
    expect(file.headerBytes % 8).toBe(0); // data buffer 8-byte aligned
    expect([...file.tensors.keys()].sort()).toEqual(['a', 'empty', 'h', 'ints', 'raw']);
    const a = file.tensors.get('a')!;
    expect(a.shape).toEqual([2, 3]);
    expect(a.bytes.buffer).toBe(bytes.buffer); // a view, not a copy
    expect(Array.from(tensorToFloat32(a))).toEqual(Array.from(f32));
    expect(Object.is(tensorToFloat32(a)[5], -0)).toBe(true);
    expect(Array.from(tensorToFloat32(file.tensors.get('h')!))).toEqual([
      1,
      0.0999755859375,
      -65504,
      2 ** -24,
    ]);
    expect(Array.from(tensorToFloat16Bits(file.tensors.get('raw')!))).toEqual([
      0x3c00, 0xc000, 0x7bff,
    ]);
    expect(Array.from(tensorToInt32(file.tensors.get('ints')!))).toEqual(Array.from(i32));
    expect(tensorToFloat32(file.tensors.get('empty')!).length).toBe(0);
  });

  it('writes little-endian data at the offsets the header names', () => {
    const bytes = writeSafetensors({
      x: { dtype: 'I32', shape: [1], data: new Int32Array([0x01020304]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.trimEnd()).toBe('{"x":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}');
    expect(Array.from(bytes.subarray(8 + n))).toEqual([4, 3, 2, 1]);
  });

  it('reads a hand-made file with no padding, no metadata and an unaligned data buffer', () => {
    const data = new Uint8Array(new Float32Array([7, 8]).buffer);
    const bytes = rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data);
    const file = readSafetensors(bytes);
    expect(file.headerBytes % 4).not.toBe(0); // proves tensorToFloat32 copes with unaligned views
    expect(Array.from(tensorToFloat32(file.tensors.get('t')!))).toEqual([7, 8]);
    expect({ ...file.metadata }).toEqual({});
  });

  it('keeps a tensor named "__proto__" as an ordinary key', () => {
    const bytes = writeSafetensors({
      ['__proto__']: { dtype: 'I32', shape: [1], data: new Int32Array([9]) },
    });
    expect(Array.from(tensorToInt32(readSafetensors(bytes).tensors.get('__proto__')!))).toEqual([
      9,
    ]);
  });

  it('round-trips random tensors', () => {
    const tensorArb = fc.oneof(
      fc
        .array(fc.float({ noNaN: true }), { maxLength: 40 })
        .map((v) => ({ dtype: 'F32' as const, v })),
      fc
        .array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 40 })
        .map((v) => ({ dtype: 'I32' as const, v })),
      fc
        .array(fc.integer({ min: 0, max: 0x7bff }), { maxLength: 40 })
        .map((v) => ({ dtype: 'F16' as const, v })),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tensorArb, { maxKeys: 5 }),
        (spec) => {
          const tensors = Object.fromEntries(
            Object.entries(spec)
              .filter(([k]) => k !== '__metadata__')
              .map(([k, { dtype, v }]) => {
                const data =
                  dtype === 'F32'
                    ? new Float32Array(v)
                    : dtype === 'I32'
                      ? new Int32Array(v)
                      : new Uint16Array(v);
                return [k, { dtype, shape: [v.length], data }];
              }),
          );
          const file = readSafetensors(writeSafetensors(tensors));
          expect(file.tensors.size).toBe(Object.keys(tensors).length);
          for (const [k, t] of Object.entries(tensors)) {
            const view = file.tensors.get(k)!;
            const back =
              t.dtype === 'I32'
                ? tensorToInt32(view)
                : t.dtype === 'F16'
                  ? tensorToFloat16Bits(view)
                  : tensorToFloat32(view);
            expect(Array.from(back)).toEqual(Array.from(t.data));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects inconsistent input when writing', () => {
    expectCode(
      () => writeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }),
      'shape_mismatch',
    );
    expectCode(
      () => writeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }),
      'bad_input',
    );
    expectCode(
      () => writeSafetensors({ x: { dtype: 'I32', shape: [-1], data: new Int32Array(0) } }),
      'bad_shape',
    );
  });
});

describe('readSafetensors rejects malformed files', () => {
  const f32x2 = new Uint8Array(8);
  const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('accepts the baseline used below', () => {
    expect(readSafetensors(rawFile(ok, f32x2)).tensors.size).toBe(1);
  });
  it('file shorter than 8 bytes -> truncated', () => {
    expectCode(() => readSafetensors(new Uint8Array(0)), 'truncated');
    expectCode(() => readSafetensors(new Uint8Array(7)), 'truncated');
  });
  it('header length beyond the file -> truncated', () => {
    const f = rawFile(ok, f32x2);
    expectCode(() => readSafetensors(f.subarray(0, 20)), 'truncated');
  });
  it('header length above the maximum -> header_too_large', () => {
    const err = expectCode(
      () => readSafetensors(rawFile(ok, f32x2), { maxHeaderBytes: 16 }),
      'header_too_large',
    );
    expect(err.hint).toBeTruthy();
  });
  it('header length 2^60 is rejected from the 8-byte prefix alone, without allocating', () => {
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, 2n ** 60n, true);
    // Only 8 bytes exist: if the reader tried to read or allocate the header it would fail otherwise.
    expectCode(() => parseSafetensorsHeader(prefix, Number.MAX_SAFE_INTEGER), 'header_too_large');
    expectCode(() => readSafetensors(prefix), 'header_too_large');
    // Without a cap, BigInt keeps 2^60 from rounding into something that fits a huge total size.
    expectCode(
      () => safetensorsHeaderLength(prefix, Number.MAX_SAFE_INTEGER, { maxHeaderBytes: 2 ** 60 }),
      'truncated',
    );
    const max = new Uint8Array(8).fill(0xff); // 2^64 - 1: above any cap a Number can express
    expectCode(
      () => readSafetensors(max, { maxHeaderBytes: Number.MAX_SAFE_INTEGER }),
      'header_too_large',
    );
  });
  it('streaming: the prefix must hold the whole header', () => {
    const f = rawFile(ok, f32x2);
    expect(safetensorsHeaderLength(f.subarray(0, 8), f.length)).toBe(f.length - 8 - 8);
    expectCode(() => parseSafetensorsHeader(f.subarray(0, 12), f.length), 'truncated');
    expect(
      parseSafetensorsHeader(f.subarray(0, f.length - 8), f.length).header.entries[0]!.name,
    ).toBe('t');
  });
  it('header not UTF-8 JSON, or not an object -> header_not_json', () => {
    expectCode(() => readSafetensors(rawFile('{"t": ', f32x2)), 'header_not_json');
    expectCode(() => readSafetensors(rawFile('[]')), 'header_not_json');
    expectCode(() => readSafetensors(rawFile('null')), 'header_not_json');
    expectCode(() => readSafetensors(rawFile('')), 'header_not_json');
    const bad = rawFile('{"__metadata__":{"a":"xx"}}');
    bad[8 + 20] = 0xff; // invalid UTF-8 inside a string
    expectCode(() => readSafetensors(bad), 'header_not_json');
  });
  it('accepts header padding with spaces', () => {
    expect(readSafetensors(rawFile(JSON.stringify(ok) + '      ', f32x2)).tensors.size).toBe(1);
  });
  it('__metadata__ not a string map -> bad_metadata', () => {
    expectCode(
      () => readSafetensors(rawFile({ __metadata__: { a: 1 }, ...ok }, f32x2)),
      'bad_metadata',
    );
    expectCode(
      () => readSafetensors(rawFile({ __metadata__: ['a'], ...ok }, f32x2)),
      'bad_metadata',
    );
    expectCode(() => readSafetensors(rawFile({ __metadata__: 'a', ...ok }, f32x2)), 'bad_metadata');
    expectCode(
      () => readSafetensors(rawFile({ __metadata__: { a: null }, ...ok }, f32x2)),
      'bad_metadata',
    );
  });
  it('entry not an object -> bad_entry', () => {
    expectCode(() => readSafetensors(rawFile({ t: 3 })), 'bad_entry');
  });
  it('unknown dtype -> unknown_dtype', () => {
    const err = expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, dtype: 'BF16' } }, f32x2)),
      'unknown_dtype',
    );
    expect(err.message).toContain('"t"');
    expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, dtype: 'toString' } }, f32x2)),
      'unknown_dtype',
    );
  });
  it('bad shape -> bad_shape', () => {
    for (const shape of [[-1], [1.5], ['2'], 2, null, [2 ** 53]]) {
      expectCode(() => readSafetensors(rawFile({ t: { ...ok.t, shape } }, f32x2)), 'bad_shape');
    }
  });
  it('bad data_offsets -> bad_offsets', () => {
    for (const data_offsets of [[0], [0, 8, 9], [8, 0], [-1, 8], [0, 8.5], ['0', '8'], null]) {
      expectCode(
        () => readSafetensors(rawFile({ t: { ...ok.t, data_offsets } }, f32x2)),
        'bad_offsets',
      );
    }
    expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, data_offsets: [0, 16] } }, f32x2)),
      'bad_offsets',
    );
  });
  it('overlapping tensors -> overlap', () => {
    const h = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expectCode(() => readSafetensors(rawFile(h, new Uint8Array(12))), 'overlap');
    const same = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    expectCode(() => readSafetensors(rawFile(same, new Uint8Array(8))), 'overlap');
  });
  it('size not matching shape x dtype -> shape_mismatch', () => {
    expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, shape: [3] } }, f32x2)),
      'shape_mismatch',
    );
    expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, dtype: 'F16' } }, f32x2)),
      'shape_mismatch',
    );
    expectCode(
      () => readSafetensors(rawFile({ t: { ...ok.t, shape: [2 ** 30, 2 ** 30] } }, f32x2)),
      'shape_mismatch',
    );
  });
  it('bytes after the last tensor or holes between tensors -> unindexed_bytes', () => {
    expectCode(() => readSafetensors(rawFile(ok, new Uint8Array(9))), 'unindexed_bytes');
    const hole = {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
    };
    expectCode(() => readSafetensors(rawFile(hole, new Uint8Array(12))), 'unindexed_bytes');
    expectCode(() => readSafetensors(rawFile({}, new Uint8Array(4))), 'unindexed_bytes');
  });
  it('reading the wrong dtype -> wrong_dtype', () => {
    const file = readSafetensors(rawFile(ok, f32x2));
    expectCode(() => tensorToInt32(file.tensors.get('t')!), 'wrong_dtype');
    expectCode(() => tensorToFloat16Bits(file.tensors.get('t')!), 'wrong_dtype');
  });
});

describe('fuzz: damaged files only ever raise SafetensorsError', () => {
  const valid = writeSafetensors(
    {
      a: { dtype: 'F16', shape: [3, 4], data: new Float32Array(12).map((_, i) => i / 7) },
      b: { dtype: 'I32', shape: [5], data: new Int32Array([1, 2, 3, 4, 5]) },
      c: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    },
    { k: 'v' },
  );
  const headerEnd = Number(new DataView(valid.buffer).getBigUint64(0, true)) + 8;

  function readAll(bytes: Uint8Array): void {
    try {
      const file = readSafetensors(bytes);
      for (const t of file.tensors.values()) {
        if (t.dtype === 'I32') tensorToInt32(t);
        else tensorToFloat32(t);
      }
    } catch (e) {
      if (!(e instanceof SafetensorsError)) throw e;
    }
  }

  it('random byte mutations (biased toward the length and header)', () => {
    const idx = fc.oneof(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 8, max: headerEnd - 1 }),
      fc.integer({ min: 0, max: valid.length - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(idx, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (muts) => {
          const b = valid.slice();
          for (const [i, v] of muts) b[i] = v;
          readAll(b);
        },
      ),
      { numRuns: 2000 },
    );
  });
  it('random truncations and extensions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: valid.length - 1 }),
        fc.uint8Array({ maxLength: 16 }),
        (cut, tail) => {
          const b = new Uint8Array(cut + tail.length);
          b.set(valid.subarray(0, cut));
          b.set(tail, cut);
          readAll(b);
          let threw = false;
          try {
            readSafetensors(valid.subarray(0, cut));
          } catch (e) {
            threw = e instanceof SafetensorsError;
          }
          return threw; // any strict prefix of a valid file is invalid
        },
      ),
      { numRuns: 2000 },
    );
  });
  it('random JSON-ish headers', () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom('F16', 'F32', 'I32', 'BF16'), value),
      shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }), value),
      data_offsets: fc.oneof(
        fc.tuple(fc.integer({ min: -1, max: 40 }), fc.integer({ min: -1, max: 40 })),
        value,
      ),
    });
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(entry, value), { maxKeys: 4 }),
        fc.uint8Array({ maxLength: 40 }),
        (h, data) => {
          readAll(rawFile(h, data));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
