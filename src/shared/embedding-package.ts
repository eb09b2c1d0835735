/**
 * The embedding package a site sends (docs/architecture.md, "Contracts"): a safetensors file with exactly
 * `conditioning` [N, 77, D] (F16|F32), `labels` [N] (I32), `counts` [N] (I32) and the
 * PackageMetadata string map. Both ends use this codec, so a package the site writes is exactly
 * what the server accepts.
 */
import { float16BitsToFloat32, float32ToFloat16Bits, isFloat16NonFinite } from './float16';
import { metadataToStrings, PACKAGE_TENSORS, PackageMetadata } from './package-format';
import { formatZodIssues } from './zod-issues';
import {
  littleEndianBytes,
  readSafetensors,
  safetensorsHeader,
  SafetensorsError,
  tensorToFloat16Bits,
  tensorToFloat32,
  tensorToInt32,
  type TensorView,
} from './safetensors';

/** Tokens per conditioning row: the CLIP text encoder's fixed context length. */
export const CONDITIONING_TOKENS = 77;

export class PackageError extends Error {
  override readonly name = 'PackageError';
  constructor(
    /** Machine-readable: a SafetensorsError code for a damaged file, or wrong_tensors, bad_dtype,
     *  bad_shape, empty, non_finite, bad_count, bad_label, bad_metadata, bad_input. */
    readonly code: string,
    message: string,
    /** What to do about it. */
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type EmbeddingPackage = {
  metadata: PackageMetadata;
  n: number;
  dim: number;
  dtype: 'F16' | 'F32';
  /** n * 77 * dim values, row-major [n, 77, dim]. */
  conditioning: Float32Array;
  labels: Int32Array;
  counts: Int32Array;
};

export type EncodePackageInput = {
  metadata: PackageMetadata;
  conditioning: Float32Array;
  n: number;
  dim: number;
  dtype: 'F16' | 'F32';
  labels: Int32Array;
  counts: Int32Array;
};

function parseMetadata(strings: Record<string, string>): PackageMetadata {
  const parsed = PackageMetadata.safeParse(strings);
  if (!parsed.success) {
    throw new PackageError(
      'bad_metadata',
      `package metadata is invalid: ${formatZodIssues(parsed.error.issues)}`,
      'Prepare the package again with a matching FGL app version.',
    );
  }
  return parsed.data;
}

function checkLabelsAndCounts(labels: Int32Array, counts: Int32Array): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! < 0) {
      throw new PackageError(
        'bad_label',
        `row ${i}: label ${labels[i]} is negative`,
        'Labels are indices into the study classes (0-based).',
      );
    }
  }
  for (let i = 0; i < counts.length; i++) {
    if (counts[i]! < 1) {
      throw new PackageError(
        'bad_count',
        `row ${i}: count ${counts[i]} is below 1`,
        'Every row must represent at least one image.',
      );
    }
  }
}

function nonFiniteError(index: number, dim: number, value: number): PackageError {
  const perRow = CONDITIONING_TOKENS * dim;
  const row = Math.floor(index / perRow);
  const token = Math.floor((index % perRow) / dim);
  return new PackageError(
    'non_finite',
    `row ${row}: conditioning value ${value} at token ${token}, channel ${index % dim} is not finite`,
    'The text encoder produced NaN/Inf (or a value too large for F16); check the encoder and re-run the preparation.',
  );
}

export function encodePackage(p: EncodePackageInput): Uint8Array {
  // One encoder for both ways of writing a package, so in-memory and streamed files are identical.
  const encoder = createPackageEncoder(p);
  const perRow = CONDITIONING_TOKENS * p.dim;
  if (p.conditioning.length !== p.n * perRow) {
    throw new PackageError(
      'bad_shape',
      `conditioning has ${p.conditioning.length} values but [${p.n}, ${CONDITIONING_TOKENS}, ${p.dim}] needs ${p.n * perRow}`,
    );
  }
  const out = new Uint8Array(encoder.byteLength);
  out.set(encoder.header, 0);
  let at = encoder.header.length;
  for (let r = 0; r < p.n; r++) {
    const bytes = encoder.encodeRow(p.conditioning.subarray(r * perRow, (r + 1) * perRow));
    out.set(bytes, at);
    at += bytes.length;
  }
  out.set(encoder.trailer(), at);
  return out;
}

/** Everything about a package but its conditioning rows: what a streaming writer needs up front. */
export type PackageHeaderInput = Omit<EncodePackageInput, 'conditioning'>;

/**
 * A package encoded piece by piece, so no one ever holds all [N, 77, D] values: write `header`,
 * then `encodeRow(row)` for rows 0..n−1 in order, then `trailer()`. The concatenation is
 * byte-identical to `encodePackage` with the same input, and is checked the same way.
 */
export type PackageEncoder = {
  /** Total length of the package in bytes. */
  byteLength: number;
  /** The safetensors length prefix + JSON header. */
  header: Uint8Array;
  /**
   * The bytes of the next conditioning row ([77 · dim] values). The returned view points into a
   * buffer that the next call overwrites: write it out before encoding the next row.
   */
  encodeRow(row: Float32Array): Uint8Array;
  /** The labels and counts tensors; only after all n rows. */
  trailer(): Uint8Array;
};

/** Validate like `encodePackage` and return the piecewise encoder; rows are checked as they come. */
export function createPackageEncoder(p: PackageHeaderInput): PackageEncoder {
  const { n, dim } = p;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new PackageError(
      'empty',
      `package must have at least one row, got n=${n}`,
      'Nothing passed the privacy checks; adjust the dataset or settings.',
    );
  }
  if (!Number.isSafeInteger(dim) || dim < 1)
    throw new PackageError('bad_shape', `dim must be a positive integer, got ${dim}`);
  if (p.dtype !== 'F16' && p.dtype !== 'F32')
    throw new PackageError(
      'bad_dtype',
      `conditioning dtype must be F16 or F32, got ${String(p.dtype)}`,
    );
  if (p.labels.length !== n)
    throw new PackageError('bad_shape', `labels has ${p.labels.length} entries, expected ${n}`);
  if (p.counts.length !== n)
    throw new PackageError('bad_shape', `counts has ${p.counts.length} entries, expected ${n}`);
  checkLabelsAndCounts(p.labels, p.counts);
  const strings = metadataToStrings(p.metadata);
  parseMetadata(strings);

  const perRow = CONDITIONING_TOKENS * dim;
  const { header, dataBytes } = safetensorsHeader(
    [
      { name: PACKAGE_TENSORS.conditioning, dtype: p.dtype, shape: [n, CONDITIONING_TOKENS, dim] },
      { name: PACKAGE_TENSORS.labels, dtype: 'I32', shape: [n] },
      { name: PACKAGE_TENSORS.counts, dtype: 'I32', shape: [n] },
    ],
    strings,
  );
  // Copies taken now, so the caller changing its arrays mid-stream cannot change what was validated.
  const labels = Int32Array.from(p.labels);
  const counts = Int32Array.from(p.counts);
  const f16 = p.dtype === 'F16' ? new Uint16Array(perRow) : null;
  const f32 = p.dtype === 'F32' ? new Float32Array(perRow) : null;
  let next = 0;
  return {
    byteLength: header.length + dataBytes,
    header,
    encodeRow(row) {
      if (next >= n)
        throw new PackageError(
          'bad_shape',
          `row ${next} is one more than the ${n} rows the header declares`,
        );
      if (row.length !== perRow)
        throw new PackageError(
          'bad_shape',
          `row ${next} has ${row.length} values but [${CONDITIONING_TOKENS}, ${dim}] needs ${perRow}`,
        );
      const base = next * perRow;
      let out: Uint16Array | Float32Array;
      if (f16) {
        for (let i = 0; i < perRow; i++) {
          const h = float32ToFloat16Bits(row[i]!);
          if (isFloat16NonFinite(h)) throw nonFiniteError(base + i, dim, row[i]!);
          f16[i] = h;
        }
        out = f16;
      } else {
        for (let i = 0; i < perRow; i++) {
          if (!Number.isFinite(row[i]!)) throw nonFiniteError(base + i, dim, row[i]!);
        }
        f32!.set(row);
        out = f32!;
      }
      next++;
      return littleEndianBytes(out);
    },
    trailer() {
      if (next !== n)
        throw new PackageError(
          'bad_shape',
          `only ${next} of the ${n} conditioning rows were encoded`,
        );
      const out = new Uint8Array(8 * n);
      out.set(littleEndianBytes(labels), 0);
      out.set(littleEndianBytes(counts), 4 * n);
      return out;
    },
  };
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function requireI32Vector(t: TensorView, n: number): Int32Array {
  if (t.dtype !== 'I32') {
    throw new PackageError(
      'bad_dtype',
      `${t.name} has dtype ${t.dtype}, expected I32`,
      'Prepare the package again with the FGL app.',
    );
  }
  if (t.shape.length !== 1 || t.shape[0] !== n) {
    throw new PackageError(
      'bad_shape',
      `${t.name} has shape ${shapeString(t.shape)}, expected [${n}] (one per conditioning row)`,
      'Prepare the package again with the FGL app.',
    );
  }
  return tensorToInt32(t);
}

/**
 * Parse and fully validate a package. Every failure is a PackageError; a damaged safetensors
 * file keeps its SafetensorsError code (e.g. `truncated`) and is the error's `cause`.
 */
export function decodePackage(
  bytes: Uint8Array,
  opts?: { maxHeaderBytes?: number },
): EmbeddingPackage {
  let file;
  try {
    file = readSafetensors(bytes, opts);
  } catch (e) {
    if (e instanceof SafetensorsError) {
      throw new PackageError(
        e.code,
        `package is not a valid safetensors file: ${e.message}`,
        e.hint,
        { cause: e },
      );
    }
    throw e;
  }

  const expected = Object.values(PACKAGE_TENSORS) as string[];
  const names = [...file.tensors.keys()];
  const missing = expected.filter((k) => !file.tensors.has(k));
  const extra = names.filter((k) => !expected.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 ? `missing ${missing.join(', ')}` : '',
      extra.length > 0 ? `unexpected ${extra.map((x) => JSON.stringify(x)).join(', ')}` : '',
    ].filter(Boolean);
    throw new PackageError(
      'wrong_tensors',
      `package must hold exactly conditioning, labels and counts: ${parts.join('; ')}`,
      'Prepare the package again with the FGL app; nothing else may be added to it.',
    );
  }

  const metadata = parseMetadata(file.metadata);

  const cond = file.tensors.get(PACKAGE_TENSORS.conditioning)!;
  if (cond.dtype !== 'F16' && cond.dtype !== 'F32') {
    throw new PackageError(
      'bad_dtype',
      `conditioning has dtype ${cond.dtype}, expected F16 or F32`,
      'Prepare the package again with the FGL app.',
    );
  }
  if (cond.shape.length !== 3 || cond.shape[1] !== CONDITIONING_TOKENS || cond.shape[2]! < 1) {
    throw new PackageError(
      'bad_shape',
      `conditioning has shape ${shapeString(cond.shape)}, expected [N, ${CONDITIONING_TOKENS}, D]`,
      "Use the study's text encoder output last_hidden_state as is.",
    );
  }
  const n = cond.shape[0]!;
  const dim = cond.shape[2]!;
  if (n < 1)
    throw new PackageError(
      'empty',
      'package has no rows (N = 0)',
      'Nothing passed the privacy checks; there is nothing to send.',
    );

  const labels = requireI32Vector(file.tensors.get(PACKAGE_TENSORS.labels)!, n);
  const counts = requireI32Vector(file.tensors.get(PACKAGE_TENSORS.counts)!, n);
  checkLabelsAndCounts(labels, counts);

  let conditioning: Float32Array;
  if (cond.dtype === 'F16') {
    const bits = tensorToFloat16Bits(cond);
    for (let i = 0; i < bits.length; i++) {
      if (isFloat16NonFinite(bits[i]!))
        throw nonFiniteError(i, dim, float16BitsToFloat32(bits[i]!));
    }
    conditioning = tensorToFloat32(cond);
  } else {
    conditioning = tensorToFloat32(cond);
    for (let i = 0; i < conditioning.length; i++) {
      if (!Number.isFinite(conditioning[i]!)) throw nonFiniteError(i, dim, conditioning[i]!);
    }
  }

  return { metadata, n, dim, dtype: cond.dtype, conditioning, labels, counts };
}
