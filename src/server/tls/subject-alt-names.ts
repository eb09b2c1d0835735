import { isIP } from 'node:net';
import os from 'node:os';

/** One name the server certificate is valid for. */
export type AltName = { kind: 'DNS' | 'IP'; value: string };

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** A host name or IP literal as an AltName, or null if it is neither (it goes into an openssl config). */
export function parseAltName(name: string): AltName | null {
  const bare = name.trim().replace(/^\[(.*)\]$/, '$1');
  // A zone id (fe80::1%eth0) means nothing in a certificate.
  if (isIP(bare) !== 0) return bare.includes('%') ? null : { kind: 'IP', value: bare };
  if (DNS_NAME.test(bare)) return { kind: 'DNS', value: bare.toLowerCase() };
  return null;
}

/**
 * The names the server certificate must cover: the listen host (unless it is a wildcard, then
 * this machine's host name), localhost, 127.0.0.1, ::1, and every `extra` name. Extra names are
 * operator input: anything that is not a host name or an IP literal is refused, never passed on.
 */
export function subjectAltNames(host: string, extra: readonly string[] = []): AltName[] {
  const out: AltName[] = [];
  const add = (n: AltName) => {
    if (!out.some((o) => o.kind === n.kind && o.value === n.value)) out.push(n);
  };
  if (WILDCARD_HOSTS.has(host)) {
    // Listening on every address: the machine's own name is the best guess at how sites reach it.
    const own = parseAltName(os.hostname());
    if (own) add(own);
  } else {
    const h = parseAltName(host);
    if (h) add(h);
  }
  for (const raw of extra) {
    const n = parseAltName(raw);
    if (!n)
      throw new Error(
        `"${raw}" is not a host name or IP address; pass names like fgl.example.org or 10.0.0.5 to --tls-hostname`,
      );
    add(n);
  }
  add({ kind: 'DNS', value: 'localhost' });
  add({ kind: 'IP', value: '127.0.0.1' });
  add({ kind: 'IP', value: '::1' });
  return out;
}

/** `DNS:a, IP:b`: the openssl config form of a SAN list. */
export function altNamesConfigValue(names: readonly AltName[]): string {
  return names.map((n) => `${n.kind}:${n.value}`).join(', ');
}
