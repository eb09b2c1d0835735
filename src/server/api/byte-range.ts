/**
 * One `Range: bytes=…` request against a file of `size` bytes (RFC 9110 §14). Returns the
 * inclusive byte span to send, 'unsatisfiable' (→ 416), or null to send the whole file (no
 * header, a unit other than bytes, or several ranges: ignoring Range is always allowed).
 */
export function parseByteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return null;
  const specs = m[1]!.split(',');
  if (specs.length !== 1) return null;
  const spec = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(specs[0]!);
  if (!spec || (spec[1] === '' && spec[2] === '')) return null;
  if (spec[1] === '') {
    // Suffix range: the last N bytes.
    const n = Number(spec[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(spec[1]);
  const end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  if (spec[2] !== '' && Number(spec[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
