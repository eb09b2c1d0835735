import fc from 'fast-check';

/**
 * Shared pieces of the fuzz suite: one seed per run (printed and recorded, so a failure can be
 * replayed with FGL_FUZZ_SEED=<seed>), and the hostile strings every fuzzer mixes in.
 */

/** The seed of this run: FGL_FUZZ_SEED if set, else random. fast-check also prints it on failure. */
export const FUZZ_SEED: number = process.env.FGL_FUZZ_SEED
  ? Number(process.env.FGL_FUZZ_SEED)
  : (Math.random() * 2 ** 31) | 0;

/** fc.assert parameters: the run's seed, and the number of inputs scaled by FGL_FUZZ_SCALE (default 1). */
export function fuzzParams(numRuns: number): { seed: number; numRuns: number; endOnFailure: true } {
  const scale = Number(process.env.FGL_FUZZ_SCALE ?? '1');
  return {
    seed: FUZZ_SEED,
    numRuns: Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1))),
    endOnFailure: true,
  };
}

/** Look-alikes of ASCII letters (Cyrillic, Greek, fullwidth) and invisible characters. */
export const CONFUSABLES: Record<string, string[]> = {
  a: ['\u0430', '\u03b1', '\uff41'],
  c: ['\u0441', '\u03f2', '\uff43'],
  e: ['\u0435', '\u03b5', '\uff45'],
  i: ['\u0456', '\u03b9', '\uff49'],
  o: ['\u043e', '\u03bf', '\uff4f', '0'],
  s: ['\u0455', '\uff53'],
  l: ['\u04cf', '1', '\uff4c'],
  n: ['\u0578', '\uff4e'],
  t: ['\u0442', '\uff54'],
  d: ['\u0501', '\uff44'],
  '-': ['\u2010', '\u2011', '\u2212', '\u00ad'],
};
const INVISIBLES = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u0000', '\u202e'];

/** `s` with one character swapped for a look-alike, or an invisible character inserted. */
export function confusableOf(s: string): fc.Arbitrary<string> {
  const swappable = [...s].flatMap((ch, i) => (CONFUSABLES[ch] ? [i] : []));
  const swap =
    swappable.length === 0
      ? fc.constant(s + '\u200b')
      : fc.tuple(fc.constantFrom(...swappable), fc.nat()).map(([i, k]) => {
          const chars = [...s];
          const options = CONFUSABLES[chars[i]!]!;
          chars[i] = options[k % options.length]!;
          return chars.join('');
        });
  const insert = fc
    .tuple(fc.nat({ max: s.length }), fc.constantFrom(...INVISIBLES))
    .map(([i, inv]) => s.slice(0, i) + inv + s.slice(i));
  const recase = fc.constant(s.toUpperCase());
  const padded = fc.constantFrom(` ${s}`, `${s} `, `${s}\n`, `${s}\u0000`);
  return fc.oneof(swap, insert, recase, padded);
}

/** Strings that have broken parsers before: traversal, NUL, prototype keys, odd Unicode, long runs. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '..',
      '../',
      '../../keys/admin.key',
      '..\\..\\keys\\admin.key',
      '%2e%2e/%2e%2e/keys/admin.key',
      '%2e%2e%2fkeys%2fadmin.key',
      '..%2f..%2fkeys%2fadmin.key',
      '%252e%252e%252f',
      '/etc/passwd',
      'C:\\Windows\\win.ini',
      '\\\\server\\share',
      'a\u0000b',
      '\u0000',
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '\u202eexe.png',
      '\ud800',
      '\udfff\ud800',
      'NaN',
      'Infinity',
      '-0',
      '1e309',
      '0x10',
      'null',
      'true',
      '{}',
      '[]',
      '${jndi:ldap://x}',
      "'; DROP TABLE studies; --",
      '<script>alert(1)</script>',
      '\r\nX-Injected: 1',
      'site-\u0430bcdef',
      'round-\u0442est',
      '\uff53tudy',
    ),
  },
  { weight: 1, arbitrary: fc.nat({ max: 200_000 }).map((n) => 'a'.repeat(n)) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom('..', '.', '', 'x', '%2e%2e', '..%00', '~'), { maxLength: 8 })
      .map((p) => p.join('/')),
  },
);

/** JSON nested `depth` levels deep (arrays or objects), as text: never built as a JS value here. */
export function deepJsonText(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? '['.repeat(depth) + ']'.repeat(depth)
    : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Arbitrary JSON values, including prototype keys and hostile strings as keys and values. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 3 }),
    hostileString,
    fc.constantFrom(null, true, false, 0, -0, -1, 1.5, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324),
    fc.array(tie('value'), { maxLength: 4 }),
    fc
      .array(
        fc.tuple(
          fc.oneof(hostileString, fc.constantFrom('__proto__', 'constructor', 'prototype')),
          tie('value'),
        ),
        { maxLength: 4 },
      )
      .map((entries) => {
        // defineProperty: a "__proto__" key must be an own key, as JSON.parse would make it.
        const o: Record<string, unknown> = {};
        for (const [k, v] of entries)
          Object.defineProperty(o, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        return o;
      }),
  ),
})).value;

/** Describe a thrown value for a failure message. */
export function describeThrown(e: unknown): string {
  if (e instanceof Error)
    return `${e.name}: ${e.message.slice(0, 300)}\n${e.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return `non-Error thrown: ${String(e).slice(0, 300)}`;
}

/** Attach a short description for fast-check's failure report (a 100 KB byte dump helps no one). */
export function labelled<T extends object>(value: T, describe: (v: T) => string): T {
  Object.defineProperty(value, fc.toStringMethod, {
    value: () => describe(value),
    enumerable: false,
  });
  return value;
}

/** First bytes of a buffer as hex, with its length. */
export function bytesSummary(b: Uint8Array, n = 48): string {
  const hex = Buffer.from(b.subarray(0, n)).toString('hex');
  return `${b.length} bytes: ${hex}${b.length > n ? '…' : ''}`;
}
