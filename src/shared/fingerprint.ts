/**
 * The one way a key or certificate fingerprint is shown and compared by eye: the server's start
 * and enrollment output, the site's enrollment and TLS-pinning errors, and the desktop screens.
 * (Parsing a fingerprint someone typed is `normalizeFingerprint` in `src/site/client/tls-pinning.ts`;
 * computing one is `publicKeyFingerprint` in `src/core/models/verify-model-folder.ts`.)
 */

const ALGORITHM_PREFIX = /^([A-Za-z0-9-]+):(?=[^:]{5})/;

/**
 * A fingerprint in groups of four for reading aloud and comparing by eye (`ab12 cd34 …`);
 * separators the server may use (`:`, spaces) and an algorithm prefix such as `SHA256:` are kept
 * out of the groups. Plain hex is just split into fours.
 */
export function groupFingerprint(fp: string): string {
  const m = ALGORITHM_PREFIX.exec(fp);
  const prefix = m ? `${m[1]}:` : '';
  const body = fp.slice(prefix.length).replace(/[\s:]/g, '');
  const groups = body.match(/.{1,4}/g) ?? [];
  return (prefix ? `${prefix} ` : '') + groups.join(' ');
}

/** Two fingerprints are the same key when they agree ignoring case, spaces, colons and an algorithm prefix. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(ALGORITHM_PREFIX, '').replace(/[\s:]/g, '').toLowerCase();
  return norm(a) !== '' && norm(a) === norm(b);
}
