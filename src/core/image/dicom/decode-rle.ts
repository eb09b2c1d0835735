/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header (segment count, then 15 little-endian
 * offsets) and one PackBits segment per byte plane: for each sample, its most significant byte
 * first. Returns the stored values sample-interleaved (as for planar configuration 0),
 * `rows * columns * samples` of them, as unsigned integers of `bitsAllocated` bits.
 */
export function decodeRle(
  data: Uint8Array,
  o: { rows: number; columns: number; samples: number; bitsAllocated: number },
): Uint32Array {
  const pixels = o.rows * o.columns;
  const bytesPerSample = o.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4)
    throw new Error(`RLE with ${o.bitsAllocated} bits allocated is not defined`);
  const segments = o.samples * bytesPerSample;
  if (data.length < 64) throw new Error('RLE frame is shorter than its 64-byte header');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const count = view.getUint32(0, true);
  if (count !== segments)
    throw new Error(
      `RLE frame has ${count} segments; ${segments} expected for ${o.samples} sample(s) of ${o.bitsAllocated} bits`,
    );
  const offsets: number[] = [];
  for (let s = 0; s < count; s++) offsets.push(view.getUint32(4 + 4 * s, true));
  const out = new Uint32Array(pixels * o.samples);
  const plane = new Uint8Array(pixels);
  for (let s = 0; s < count; s++) {
    const start = offsets[s]!;
    const end = s + 1 < count ? offsets[s + 1]! : data.length;
    if (start < 64 || start > end || end > data.length)
      throw new Error(`RLE segment ${s + 1} has a bad offset (${start})`);
    unpackBits(data, start, end, plane);
    const sample = Math.floor(s / bytesPerSample);
    // Segment 0 of a sample holds its most significant byte.
    const shift = 8 * (bytesPerSample - 1 - (s % bytesPerSample));
    for (let p = 0; p < pixels; p++) out[p * o.samples + sample]! |= plane[p]! << shift;
  }
  return out;
}

/** PackBits into `out` (exactly its length; a short segment is an error, padding is ignored). */
function unpackBits(src: Uint8Array, start: number, end: number, out: Uint8Array): void {
  let i = start;
  let o = 0;
  while (o < out.length && i < end) {
    const n = (src[i++]! << 24) >> 24; // signed byte
    if (n >= 0) {
      const len = Math.min(n + 1, out.length - o, end - i);
      out.set(src.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      const len = Math.min(1 - n, out.length - o);
      out.fill(src[i++]!, o, o + len);
      o += len;
    }
  }
  if (o < out.length)
    throw new Error(`RLE segment decodes to ${o} bytes; ${out.length} expected (truncated)`);
}
