import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureServerTls,
  readServerTlsCa,
  RENEW_BEFORE_DAYS,
  TLS_FILES,
} from '../../../src/server/tls/server-tls';
import { parseAltName, subjectAltNames } from '../../../src/server/tls/subject-alt-names';

describe('server TLS material', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-tls-'));
  });
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  it('names the listen host, loopback and extra names; refuses anything that is not a name or an IP', () => {
    expect(
      subjectAltNames('10.0.0.5', ['FGL.Example.org', '[fd00::5]']).map(
        (n) => `${n.kind}:${n.value}`,
      ),
    ).toEqual([
      'IP:10.0.0.5',
      'DNS:fgl.example.org',
      'IP:fd00::5',
      'DNS:localhost',
      'IP:127.0.0.1',
      'IP:::1',
    ]);
    // Operator input ends up in an openssl config file: no separators, no new lines, no sections.
    for (const bad of [
      'a.org, DNS:evil.org',
      'x\n[v3_ca]',
      'host name',
      'a..b',
      '-a.org',
      'fe80::1%eth0',
      '',
    ])
      expect(parseAltName(bad), JSON.stringify(bad)).toBeNull();
    expect(() => subjectAltNames('127.0.0.1', ['a.org\nbasicConstraints=CA:TRUE'])).toThrow(
      /not a host name or IP/,
    );
  });

  it('re-issues the server certificate from the same CA when it nears expiry, and only then', async () => {
    const first = await ensureServerTls(dir, { host: '127.0.0.1' });
    expect(first.created).toMatchObject({ ca: true, serverCert: true });
    const again = await ensureServerTls(dir, { host: '127.0.0.1' });
    expect(again.created).toEqual({ ca: false, serverCert: false, reason: null });
    expect(again.certChainPem).toBe(first.certChainPem);

    const validTo = new Date(first.serverCertValidTo).getTime();
    const late = new Date(validTo - (RENEW_BEFORE_DAYS - 1) * 86_400_000);
    const renewed = await ensureServerTls(dir, { host: '127.0.0.1', now: () => late });
    expect(renewed.created.serverCert).toBe(true);
    expect(renewed.created.reason).toMatch(/expires/);
    expect(renewed.caFingerprint).toBe(first.caFingerprint);
    expect(renewed.keyPem).not.toBe(first.keyPem); // a fresh key with every certificate
    const ca = new X509Certificate(renewed.caCertPem);
    const leaf = new X509Certificate(await fs.readFile(path.join(dir, TLS_FILES.cert)));
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    expect(await readServerTlsCa(dir)).toEqual({
      caCertPem: ca.toString(),
      caFingerprint: first.caFingerprint,
    });
  });

  it('re-issues a server certificate whose key was replaced, and refuses a CA certificate without its key', async () => {
    await fs.writeFile(
      path.join(dir, TLS_FILES.key),
      await fs.readFile(path.join(dir, TLS_FILES.caKey)),
    );
    const fixed = await ensureServerTls(dir, { host: '127.0.0.1' });
    expect(fixed.created.reason).toMatch(/key does not match/);

    await fs.rm(path.join(dir, TLS_FILES.caKey));
    await expect(ensureServerTls(dir, { host: '127.0.0.1' })).rejects.toThrow(
      /ca\.key is missing.*enroll again/s,
    );
    expect((await fs.readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]); // no config left behind
  });
});
