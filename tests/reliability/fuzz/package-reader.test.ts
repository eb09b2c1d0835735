import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONDITIONING_TOKENS,
  decodePackage,
  encodePackage,
  PackageError,
} from '../../../src/shared/embedding-package';
import type { PackageMetadata } from '../../../src/shared/package-format';
import {
  DEFAULT_MAX_HEADER_BYTES,
  readSafetensors,
  SafetensorsError,
  tensorToFloat16Bits,
  tensorToFloat32,
  tensorToInt32,
} from '../../../src/shared/safetensors';
import { recordFigures } from '../reliability-figures';
import {
  bytesSummary,
  confusableOf,
  labelled,
  deepJsonText,
  describeThrown,
  FUZZ_SEED,
  fuzzParams,
  hostileJson,
  hostileString,
} from './fuzz-support';

/*
 * Hostile packages: whatever bytes arrive, the reader ends in a SafetensorsError (readSafetensors)
 * or a PackageError (decodePackage) — never a TypeError/RangeError, never a hang, never a huge
 * allocation from a declared length. A package that does decode satisfies every invariant the
 * server relies on.
 */

const enc = new TextEncoder();

const metadata: PackageMetadata = {
  format: 'fgl-embedding-package',
  format_version: '1',
  study_id: 'fuzz-study',
  site_id: 'site-fuzz0001',
  encoder_id: 'fgl-tiny/text-encoder',
  encoder_sha256: 'a'.repeat(64),
  prompt_mode: 'class',
  aggregation: 'class',
  k: 3,
  dp_epsilon: 4,
  dp_delta: 1e-5,
  dp_clip: 1,
  dp_sigma: 1.1,
  app_version: '0.1.0',
  created_at: '2025-01-01T00:00:00.000Z',
};

function validPackage(dtype: 'F16' | 'F32', n = 2, dim = 4): Uint8Array {
  const conditioning = new Float32Array(n * CONDITIONING_TOKENS * dim).map((_, i) =>
    Math.sin(i * 0.37),
  );
  return encodePackage({
    metadata,
    conditioning,
    n,
    dim,
    dtype,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    counts: Int32Array.from({ length: n }, () => 5),
  });
}

const BASES = [validPackage('F16'), validPackage('F32'), validPackage('F16', 1, 1)];

type Split = { header: Record<string, unknown>; headerText: string; data: Uint8Array };

function split(file: Uint8Array): Split {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const headerText = new TextDecoder().decode(file.subarray(8, 8 + n));
  return {
    header: JSON.parse(headerText) as Record<string, unknown>,
    headerText,
    data: file.subarray(8 + n),
  };
}

/** 8-byte length + header bytes + data, with an optional lie about the header length. */
function assemble(headerBytes: Uint8Array, data: Uint8Array, declared?: bigint): Uint8Array {
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

const withHeader = (s: Split, header: unknown) =>
  assemble(enc.encode(JSON.stringify(header)), s.data);

const base = fc.constantFrom(...BASES);
const tensorName = fc.constantFrom('conditioning', 'labels', 'counts');

/** Values that are wrong for a dtype / shape / data_offsets field. */
const hostileField = fc.oneof(
  hostileJson,
  fc.constantFrom(
    'F64',
    'BF16',
    'f16',
    'I64',
    'U8',
    'BOOL',
    '',
    [],
    [-1],
    [-1, 10],
    [10, 5],
    [0, 2 ** 53],
    [0, 1e300],
    [0.5, 1],
    [2 ** 53, 77, 4],
    [2 ** 31, 77, 2 ** 31],
    [1e6, 77, 1e6],
    [0, 77, 4],
    [2, 77, 0],
    [2, 76, 4],
    [2, 77, 4, 1],
    [2 ** 40, 2 ** 40, 2 ** 40],
    ['2', '77', '4'],
    [null, null],
    { begin: 0, end: 1 },
  ),
);

const rawMutation: fc.Arbitrary<{ kind: string; bytes: Uint8Array }> = fc.oneof(
  // Truncated anywhere.
  fc
    .tuple(base, fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([b, f]) => ({ kind: 'truncate', bytes: b.subarray(0, Math.floor(b.length * f)) })),
  // Bit flips, half of them inside the first 300 bytes (length prefix + header).
  fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.nat({ max: 7 })), {
        minLength: 1,
        maxLength: 8,
      }),
    )
    .map(([b, flips]) => {
      const out = Uint8Array.from(b);
      for (const [inHeader, pos, bit] of flips) {
        const i = inHeader ? pos % Math.min(300, out.length) : pos % out.length;
        out[i] = out[i]! ^ (1 << bit);
      }
      return { kind: 'bitflip', bytes: out };
    }),
  // A lie in the 8-byte header length: huge, just too long, zero, random u64.
  fc
    .tuple(
      base,
      fc.oneof(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(
          0n,
          1n,
          2n ** 63n,
          2n ** 64n - 1n,
          2n ** 53n + 1n,
          BigInt(DEFAULT_MAX_HEADER_BYTES) + 1n,
        ),
        fc.integer({ min: -16, max: 16 }).map((d) => BigInt(Math.max(0, 1000 + d))),
      ),
    )
    .map(([b, n]) => {
      const out = Uint8Array.from(b);
      new DataView(out.buffer).setBigUint64(0, n, true);
      return { kind: 'header_length', bytes: out };
    }),
  // One field of one tensor entry replaced by a wrong type / huge shape / negative offsets.
  fc
    .tuple(
      base,
      tensorName,
      fc.constantFrom('dtype', 'shape', 'data_offsets', '(entry)'),
      hostileField,
    )
    .map(([b, name, field, value]) => {
      const s = split(b);
      const header = structuredClone(s.header);
      if (field === '(entry)') header[name] = value;
      else (header[name] as Record<string, unknown>)[field] = value;
      return { kind: 'entry_field', bytes: withHeader(s, header) };
    }),
  // A tensor renamed to a look-alike (Cyrillic o, zero-width space, trailing NUL …).
  fc
    .tuple(base, tensorName)
    .chain(([b, name]) => confusableOf(name).map((alias) => ({ b, name, alias })))
    .map(({ b, name, alias }) => {
      const s = split(b);
      const header: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.header)) header[k === name ? alias : k] = v;
      return { kind: 'confusable_name', bytes: withHeader(s, header) };
    }),
  // Metadata: a value or key with NUL bytes / wrong types / prototype keys, or a key missing.
  fc
    .tuple(
      base,
      fc.oneof(fc.constantFrom(...Object.keys(metadata)), hostileString),
      fc.oneof(
        hostileString.map((v) => ({ set: v as unknown })),
        hostileJson.map((v) => ({ set: v })),
        fc.constantFrom(
          { set: 'fuzz-study\u0000' as unknown },
          { set: '\u0000' },
          { set: 'site-fuzz0001\u0000../../x' },
          { delete: true },
        ),
      ),
    )
    .map(([b, key, op]) => {
      const s = split(b);
      const meta = { ...(s.header.__metadata__ as Record<string, unknown>) };
      if ('delete' in op) Reflect.deleteProperty(meta, key);
      else
        Object.defineProperty(meta, key, {
          value: op.set,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return { kind: 'metadata', bytes: withHeader(s, { ...s.header, __metadata__: meta }) };
    }),
  // Non-finite values in the data, negative labels, zero counts.
  fc
    .tuple(base, fc.nat(), fc.constantFrom('nan', 'inf', '-inf', 'label', 'count'))
    .map(([b, pos, what]) => {
      const out = Uint8Array.from(b);
      const s = split(b);
      const start = b.length - s.data.length;
      const entry = (name: string) =>
        s.header[name] as { dtype: string; data_offsets: [number, number] };
      const dv = new DataView(out.buffer);
      if (what === 'label' || what === 'count') {
        const e = entry(what === 'label' ? 'labels' : 'counts');
        const slots = (e.data_offsets[1] - e.data_offsets[0]) / 4;
        dv.setInt32(
          start + e.data_offsets[0] + (pos % slots) * 4,
          what === 'label' ? -1 - (pos % 5) : -(pos % 2),
          true,
        );
      } else {
        const e = entry('conditioning');
        const size = e.dtype === 'F16' ? 2 : 4;
        const at =
          start +
          e.data_offsets[0] +
          (pos % ((e.data_offsets[1] - e.data_offsets[0]) / size)) * size;
        const v = what === 'nan' ? Number.NaN : what === 'inf' ? Infinity : -Infinity;
        if (size === 4) dv.setFloat32(at, v, true);
        else dv.setUint16(at, what === 'nan' ? 0x7e00 : what === 'inf' ? 0x7c00 : 0xfc00, true);
      }
      return { kind: 'non_finite', bytes: out };
    }),
  // Deeply nested JSON where a dtype, a shape, an offset, a metadata value or the whole header go.
  fc
    .tuple(
      base,
      fc.integer({ min: 1, max: 30_000 }),
      fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>,
      fc.constantFrom('dtype', 'shape', 'data_offsets', 'metadata', 'header', 'entry'),
    )
    .map(([b, depth, nest, where]) => {
      const s = split(b);
      const deep = deepJsonText(depth, nest);
      // The rest of the header without the key we replace (JSON's last duplicate would win).
      const without = (key: string) =>
        JSON.stringify(
          Object.fromEntries(Object.entries(s.header).filter(([k]) => k !== key)),
        ).slice(1, -1);
      const rest = without(where === 'metadata' ? '__metadata__' : 'conditioning');
      let text: string;
      if (where === 'header') text = deep;
      else if (where === 'metadata') text = `{"__metadata__":{"study_id":${deep}},${rest}}`;
      else if (where === 'entry') text = `{"conditioning":${deep},${rest}}`;
      else
        text = `{"conditioning":{"dtype":"F16","shape":[2,77,4],"data_offsets":[0,1],"${where}":${deep}},${rest}}`;
      return { kind: 'deep_json', bytes: assemble(enc.encode(text), s.data) };
    }),
  // Header text that is not JSON, not UTF-8, or JSON with odd literals.
  fc
    .tuple(
      base,
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }).map((t) => enc.encode(t)),
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom(
          enc.encode('NaN'),
          enc.encode(
            '{"conditioning":{"dtype":"F16","shape":[NaN,77,4],"data_offsets":[0,Infinity]}}',
          ),
          enc.encode('\ufeff{}'),
          new Uint8Array([0x7b, 0xed, 0xa0, 0x80, 0x7d]),
          new Uint8Array([0x7b, 0xc0, 0xaf, 0x7d]),
          enc.encode('{"__metadata__":null}'),
          enc.encode('{"__metadata__":[]}'),
          enc.encode('{"__proto__":{"dtype":"F16","shape":[0],"data_offsets":[0,0]}}'),
          enc.encode('[]'),
          enc.encode('null'),
          enc.encode('"conditioning"'),
        ),
      ),
    )
    .map(([b, headerBytes]) => ({
      kind: 'header_text',
      bytes: assemble(headerBytes, split(b).data),
    })),
  // A whole random header object (arbitrary JSON) over random data.
  fc
    .tuple(hostileJson, fc.uint8Array({ maxLength: 256 }))
    .map(([h, data]) => ({
      kind: 'random_header',
      bytes: assemble(enc.encode(JSON.stringify(h) ?? 'null'), data),
    })),
  // Pure noise.
  fc.uint8Array({ maxLength: 1024 }).map((bytes) => ({ kind: 'noise', bytes })),
);

const mutation = rawMutation.map((m) =>
  labelled(
    m,
    (v) => `${v.kind} (${bytesSummary(v.bytes)}); replay with FGL_FUZZ_SEED=${FUZZ_SEED}`,
  ),
);

const tried = new Map<string, number>();
const outcomes = new Map<string, number>();
let failures = 0;
let inputs = 0;
let slowestMs = 0;

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** The property: only our two error classes, and a decoded package is internally consistent. */
function check(kind: string, bytes: Uint8Array): void {
  inputs++;
  bump(tried, kind);
  const t0 = performance.now();
  try {
    let file;
    try {
      file = readSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof SafetensorsError))
        throw new Error(`readSafetensors threw ${describeThrown(e)}`);
      expect(e.code).toMatch(/^[a-z_]+$/);
    }
    if (file) {
      // The typed views of any tensor read either convert or say wrong_dtype.
      for (const t of file.tensors.values()) {
        for (const conv of [tensorToFloat32, tensorToFloat16Bits, tensorToInt32]) {
          try {
            conv(t);
          } catch (e) {
            if (!(e instanceof SafetensorsError) || e.code !== 'wrong_dtype')
              throw new Error(
                `converting tensor ${JSON.stringify(t.name)} threw ${describeThrown(e)}`,
              );
          }
        }
      }
    }
    let pkg;
    try {
      pkg = decodePackage(bytes);
    } catch (e) {
      if (!(e instanceof PackageError)) throw new Error(`decodePackage threw ${describeThrown(e)}`);
      expect(e.code).toMatch(/^[a-z_]+$/);
      expect(e.message.length).toBeGreaterThan(0);
      if (e.cause !== undefined) expect(e.cause).toBeInstanceOf(SafetensorsError);
      bump(outcomes, e.code);
      return;
    }
    bump(outcomes, 'decoded');
    expect(pkg.n).toBeGreaterThanOrEqual(1);
    expect(pkg.conditioning.length).toBe(pkg.n * CONDITIONING_TOKENS * pkg.dim);
    expect(pkg.labels.length).toBe(pkg.n);
    expect(pkg.counts.length).toBe(pkg.n);
    expect(pkg.conditioning.every(Number.isFinite)).toBe(true);
    expect(pkg.labels.every((l) => l >= 0)).toBe(true);
    expect(pkg.counts.every((c) => c >= 1)).toBe(true);
  } catch (e) {
    failures++;
    throw e;
  } finally {
    slowestMs = Math.max(slowestMs, performance.now() - t0);
  }
}

describe('fuzz: package reader (safetensors + embedding package)', () => {
  afterAll(() => {
    recordFigures('fuzz', 'package reader', {
      inputs,
      failures,
      seed: FUZZ_SEED,
      decodedValid: outcomes.get('decoded') ?? 0,
      distinctErrorCodes: [...outcomes.keys()].filter((k) => k !== 'decoded').length,
      slowestInputMs: Math.round(slowestMs),
    });
  });

  it('rejects every mutated, truncated, oversized or nonsensical package with a PackageError', () => {
    fc.assert(
      fc.property(mutation, ({ kind, bytes }) => check(kind, bytes)),
      fuzzParams(5000),
    );
    // Every family of mutation actually ran, and the reader told them apart.
    expect([...tried.keys()].sort()).toEqual(
      [
        'bitflip',
        'confusable_name',
        'deep_json',
        'entry_field',
        'header_length',
        'header_text',
        'metadata',
        'noise',
        'non_finite',
        'random_header',
        'truncate',
      ].sort(),
    );
    expect(outcomes.size).toBeGreaterThan(10);
  });

  it('refuses a header over the size limit before allocating from it, and decodes the unmutated bases', () => {
    // 17 MiB of header: over DEFAULT_MAX_HEADER_BYTES, so it must stop at the length prefix.
    const big = new Uint8Array(8 + DEFAULT_MAX_HEADER_BYTES + 1024).fill(0x20);
    new DataView(big.buffer).setBigUint64(0, BigInt(DEFAULT_MAX_HEADER_BYTES + 1024), true);
    check('oversized_header', big);
    expect(outcomes.get('header_too_large')).toBeGreaterThan(0);
    for (const b of BASES) check('valid', b);
    expect(outcomes.get('decoded')).toBeGreaterThanOrEqual(BASES.length);
  });
});
