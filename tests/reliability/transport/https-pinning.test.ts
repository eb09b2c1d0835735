import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TLS_FILES } from '../../../src/server/tls/server-tls';
import { clientForStudy, enrollSite } from '../../../src/site/client/enroll-site';
import { pullModel } from '../../../src/site/client/pull-model';
import { SiteClient } from '../../../src/site/client/site-client';
import { pinnedHttpsAgent, TLS_PIN_MISMATCH } from '../../../src/site/client/tls-pinning';
import { Ledger } from '../../../src/site/ledger/ledger';
import type { StudyManifest } from '../../../src/shared/study';
import { buildPackage, publishTestModel, sha256Hex } from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';
import { type LoopbackServer, startLoopbackServer } from './tls-test-server';

const NO_RETRY = { retries: 0, baseMs: 1, maxMs: 1 };

describe('HTTPS with the server’s own CA, pinned by sites', () => {
  let a: LoopbackServer; // the real server
  let b: LoopbackServer; // an impostor: same names, its own CA
  let work: string;
  let ledger: Ledger;
  let study: StudyManifest;
  const figures = { tlsServers: 0, refusedConnections: 0, pinnedRequests: 0 };

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-transport-site-'));
    a = await startLoopbackServer({ tls: true, dataDir: path.join(work, 'server-a') });
    b = await startLoopbackServer({ tls: true, dataDir: path.join(work, 'server-b') });
    figures.tlsServers = 2;
    study = await a.createStudy();
    ledger = Ledger.open(path.join(work, 'site', 'ledger.db'));
  });
  afterAll(async () => {
    ledger?.close();
    await a?.close();
    await b?.close();
    await fs.rm(work, { recursive: true, force: true });
    recordFigures('transport', 'https + CA pinning', figures);
  });

  it('creates a private CA and a server certificate once; private keys are mode 0600', async () => {
    const tls = a.server.tls!;
    expect(a.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dir = path.join(a.dataDir, 'tls');
    expect(tls.dir).toBe(dir);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(dir, TLS_FILES.caKey))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(path.join(dir, TLS_FILES.key))).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(await fs.readFile(path.join(dir, TLS_FILES.caCert)));
    const leaf = new X509Certificate(await fs.readFile(path.join(dir, TLS_FILES.cert)));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca) && leaf.verify(ca.publicKey)).toBe(true);
    for (const ip of ['127.0.0.1', '::1']) expect(leaf.checkIP(ip)).toBe(ip);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(tls.caFingerprint).toBe(ca.fingerprint256.replace(/:/g, '').toLowerCase());
    // The two servers have different CAs: that is what makes b an impostor for a's sites.
    expect(b.server.tls!.caFingerprint).not.toBe(tls.caFingerprint);
  });

  it('enrolls over HTTPS with the expected CA fingerprint, uploads, and downloads a verified model', async () => {
    const token = await a.issueToken(study.id, 'TLS Site');
    const res = await enrollSite(ledger, a.url, token, {
      expectFingerprint: a.server.signingKey.fingerprint,
      // Given out of band, grouped for reading aloud: the format must not matter.
      expectCaFingerprint: a.server.tls!.caFingerprint.toUpperCase().replace(/(.{4})/g, '$1 '),
    });
    expect(res.tlsCaFingerprint).toBe(a.server.tls!.caFingerprint);
    const row = ledger.enrollments.list().find((e) => e.studyId === study.id)!;
    expect(row.tlsCaFingerprint).toBe(a.server.tls!.caFingerprint);
    expect(row.tlsCaPem).toBe(a.server.tls!.caCertPem);

    const pkg = buildPackage(study, res.siteId, { seed: 7 });
    const file = path.join(work, 'package.safetensors');
    await fs.writeFile(file, pkg);
    // The client the ledger builds for this study: it trusts only the pinned CA.
    const upload = await clientForStudy(ledger, study.id).client.uploadPackage(study.id, file);
    expect(upload.status).toBe('created');
    expect((await a.server.store.packages.get(sha256Hex(pkg)))?.siteId).toBe(res.siteId);

    await publishTestModel(a.server, study, {
      roundId: 'round-tls-0001',
      srcDir: path.join(work, 'model-src'),
      files: {
        'model.json': JSON.stringify({ format: 'layers-model' }),
        'weights.bin': new Uint8Array(50_000).map((_, i) => i % 251),
      },
    });
    const pulled = await pullModel(ledger, study.id, { modelsRoot: path.join(work, 'models') });
    expect(pulled.row.verified).toBe('verified');
    expect(pulled.bytes).toBeGreaterThan(50_000);
    figures.pinnedRequests += 1 + 1 + 5; // enroll, upload, list + manifest + sig + 2 files
  });

  it('refuses a server whose certificate does not chain to the pinned CA, without retrying', async () => {
    const { client } = clientForStudy(ledger, study.id);
    expect(client.tlsPin?.caFingerprint).toBe(a.server.tls!.caFingerprint);
    // The same site, pointed at the impostor (same host names, valid certificate, other CA).
    let connections = 0;
    b.server.app.server.on('connection', () => connections++);
    const impostor = new SiteClient(b.url, 'k', undefined, client.tlsPin);
    const err = await impostor.listStudies().catch((e: unknown) => e as Error & { hint?: string });
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /Refusing the server at 127\.0\.0\.1:\d+: its certificate does not chain to the TLS CA pinned at enrollment/,
    );
    expect((err as { hint?: string }).hint).toMatch(/enroll again/);
    // A certificate failure is final: one connection, not a retry loop.
    expect(connections).toBe(1);
    figures.refusedConnections++;
  });

  it('refuses to enroll when the presented CA differs from the expected one, before the token is sent', async () => {
    const token = await b.issueToken((await b.createStudy()).id, 'Careful Site');
    const other = Ledger.open(':memory:');
    try {
      await expect(
        enrollSite(other, b.url, token, { expectCaFingerprint: a.server.tls!.caFingerprint }),
      ).rejects.toThrow(/TLS CA fingerprint .* does not match the expected/);
      expect(other.enrollments.list()).toEqual([]);
      // The token was never sent: it can still be redeemed.
      const redeemed = await b.api('POST', '/v1/enroll', { json: { token } });
      expect(redeemed.status).toBe(201);
    } finally {
      other.close();
    }
    figures.refusedConnections++;
  });

  it('without an expected fingerprint, a private CA is refused with the fingerprint to confirm; confirming pins it', async () => {
    const studyB = await b.createStudy('TOFU study');
    const other = Ledger.open(':memory:');
    try {
      const token = await b.issueToken(studyB.id, 'TOFU Site');
      const caught = await enrollSite(other, b.url, token).catch(
        (e: unknown) => e as Error & { hint?: string },
      );
      expect(caught).toBeInstanceOf(Error);
      const spaced = b.server.tls!.caFingerprint.replace(/(.{4})(?!$)/g, '$1 ');
      expect((caught as Error).message).toContain(spaced);
      expect((caught as { hint?: string }).hint).toMatch(/--expect-ca-fingerprint/);

      await expect(enrollSite(other, b.url, token, { confirmCa: () => false })).rejects.toThrow(
        /not confirmed/,
      );
      const seen: string[] = [];
      const res = await enrollSite(other, b.url, token, {
        confirmCa: ({ fingerprint }) => (seen.push(fingerprint), true),
      });
      expect(seen).toEqual([b.server.tls!.caFingerprint]);
      expect(res.tlsCaFingerprint).toBe(b.server.tls!.caFingerprint);
      expect((await clientForStudy(other, studyB.id).client.getStudy(studyB.id)).id).toBe(
        studyB.id,
      );
    } finally {
      other.close();
    }
    figures.refusedConnections += 2;
    figures.pinnedRequests += 2;
  });

  it('keeps the CA (and so every pin) when the server certificate is re-issued for a new host name', async () => {
    const port = Number(new URL(a.url).port);
    const before = a.server.tls!;
    await a.server.close();
    a = await startLoopbackServer({
      tls: true,
      dataDir: a.dataDir,
      port,
      hostnames: ['fgl.example.org'],
    });
    expect(a.server.tls!.created).toMatchObject({ ca: false, serverCert: true });
    expect(a.server.tls!.created.reason).toMatch(/fgl\.example\.org/);
    expect(a.server.tls!.caFingerprint).toBe(before.caFingerprint);
    const { client } = clientForStudy(ledger, study.id);
    expect((await client.listStudies()).studies.map((s) => s.id)).toContain(study.id);
    figures.pinnedRequests++;
  });

  it('refuses plain http to anything but loopback, and http where a CA is pinned, without connecting', async () => {
    for (const url of [
      'http://10.0.0.5:8787',
      'http://fgl.example.org',
      'http://[2001:db8::1]:8787',
    ])
      expect(() => new SiteClient(url)).toThrow(/Refusing plain HTTP .* use https:\/\//);
    const other = Ledger.open(':memory:');
    try {
      await expect(enrollSite(other, 'http://192.0.2.10:8787', 'token-token')).rejects.toThrow(
        /Refusing plain HTTP/,
      );
      await expect(
        enrollSite(other, 'http://127.0.0.1:9', 'token-token', {
          expectCaFingerprint: a.server.tls!.caFingerprint,
        }),
      ).rejects.toThrow(/is plain http: use the server's https:\/\/ address/);
    } finally {
      other.close();
    }
    const pin = clientForStudy(ledger, study.id).client.tlsPin!;
    expect(() => new SiteClient('http://127.0.0.1:9', 'k', NO_RETRY, pin)).toThrow(/is not https/);
    // A damaged record (PEM of one CA, fingerprint of another) is refused rather than half-trusted.
    expect(() =>
      pinnedHttpsAgent({ caPem: b.server.tls!.caCertPem, caFingerprint: pin.caFingerprint }),
    ).toThrow(/damaged/);
  });

  it('checks the pinned fingerprint in the chain itself, beyond the CA store (defence in depth)', () => {
    const pin = clientForStudy(ledger, study.id).client.tlsPin!;
    const check = pinnedHttpsAgent(pin).options.checkServerIdentity!;
    const raw = Buffer.from('not the pinned CA');
    const cert = {
      subject: { CN: '127.0.0.1' },
      subjectaltname: 'IP Address:127.0.0.1',
      fingerprint256: 'AB:'.repeat(31) + 'AB',
      raw,
    } as unknown as PeerCertificate;
    const err = check('127.0.0.1', cert);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: TLS_PIN_MISMATCH });
    // Hostname checks still apply first.
    expect(check('fgl.example.org', cert)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('says so when https meets a server that speaks plain http', async () => {
    const plain = http.createServer((_req, res) => res.end('plain'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const port = (plain.address() as { port: number }).port;
      const pin = clientForStudy(ledger, study.id).client.tlsPin!;
      const err = await new SiteClient(`https://127.0.0.1:${port}`, 'k', undefined, pin)
        .listStudies()
        .catch((e: unknown) => e as Error & { hint?: string });
      expect((err as Error).message).toMatch(/does not speak TLS on this port/);
    } finally {
      await new Promise((r) => plain.close(r));
    }
  });
});
