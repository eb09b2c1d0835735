/**
 * One test per row of docs/errors.md: the situation is set up for real (loopback servers, TLS,
 * sqlite, files) and the operator sees the code, message and hint the table promises.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectHandlers } from '../../src/site/api/handlers/connect-handlers';
import { modelsHandlers } from '../../src/site/api/handlers/models-handlers';
import { createSiteHandlers } from '../../src/site/api/site-handlers';
import { dispatchSiteCall } from '../../src/site/api/dispatch-site-call';
import { Ledger } from '../../src/site/ledger/ledger';
import { createStudy, issueToken, startTestServer, type TestServer } from '../helpers/server-fixture';
import { enrollFixture, siteContextFixture } from '../helpers/site-context-fixture';
import { startLoopbackServer, type LoopbackServer } from '../reliability/transport/tls-test-server';

let plain: TestServer;
let tlsServer: LoopbackServer;
let tlsConnections = 0;
beforeAll(async () => {
  plain = await startTestServer();
  tlsServer = await startLoopbackServer({ tls: true });
  tlsServer.server.app.server.on('connection', () => void tlsConnections++);
});
afterAll(async () => {
  await plain.close();
  await tlsServer.close();
});

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function enroll(req: Record<string, unknown>) {
  const f = await siteContextFixture();
  try {
    return await f.call(connectHandlers(f.c), 'connect.enroll', req);
  } finally {
    await f.close();
  }
}

describe('errors that say what to do (docs/errors.md)', () => {
  it('server not running → server_unreachable, "nothing is listening", not internal_error', async () => {
    const port = await closedPort();
    const r = await enroll({ serverUrl: `http://127.0.0.1:${port}`, token: 'x'.repeat(20) });
    expect(r).toEqual({
      ok: false,
      error: {
        code: 'server_unreachable',
        message: `Cannot reach the server: nothing is listening at 127.0.0.1:${port} (connection refused).`,
        hint: expect.stringContaining('Check that the server is running'),
      },
    });
  }, 60_000);

  it('http:// against a TLS server → server_speaks_tls naming the https:// address, on the first answer (no retries)', async () => {
    const httpUrl = tlsServer.url.replace('https:', 'http:');
    const before = tlsConnections;
    const r = await enroll({ serverUrl: httpUrl, token: 'x'.repeat(20) });
    expect(r).toEqual({
      ok: false,
      error: { code: 'server_speaks_tls', message: `The server at ${httpUrl} speaks HTTPS (TLS), not plain HTTP.`, hint: `Use ${tlsServer.url} as the server address.` },
    });
    // The request (reset: a TLS server closes a plain GET without an answer) and one TLS
    // handshake that tells a TLS server from a dead one; no retries.
    expect(tlsConnections - before).toBe(2);
  });

  it('https server with its own CA and no CA fingerprint given → tls_ca_unconfirmed, naming the app field and the CLI flag', async () => {
    const r = await enroll({ serverUrl: tlsServer.url, token: 'x'.repeat(20) });
    expect(r).toMatchObject({ ok: false, error: { code: 'tls_ca_unconfirmed', message: expect.stringContaining('its CA fingerprint is'), hint: expect.stringContaining('app: the "TLS CA fingerprint" field') } });
  });

  it('TLS CA fingerprint typo → tls_ca_mismatch', async () => {
    const r = await enroll({ serverUrl: tlsServer.url, token: 'x'.repeat(20), expectCaFingerprint: 'ab'.repeat(32) });
    expect(r).toMatchObject({ ok: false, error: { code: 'tls_ca_mismatch', message: expect.stringContaining('does not match the expected'), hint: expect.stringContaining('ask the study coordinator') } });
  });

  it('server key fingerprint typo → fingerprint_mismatch', async () => {
    const study = await createStudy(plain);
    const { token } = await issueToken(plain, study.id, 'typo site');
    const r = await enroll({ serverUrl: plain.url, token, expectFingerprint: '00'.repeat(32) });
    expect(r).toMatchObject({ ok: false, error: { code: 'fingerprint_mismatch', message: expect.stringMatching(/^Server key fingerprint .* does not match the expected 0000 0000/), hint: expect.stringContaining('try again with the same token') } });
  });

  it('study id typo → not_enrolled, listing the studies this site is enrolled in', async () => {
    const study = await createStudy(plain);
    const f = await siteContextFixture();
    try {
      await enrollFixture(f, plain, study.id);
      const typo = `${study.id.slice(0, -1)}x`;
      const r = await f.call(modelsHandlers(f.c), 'models.list', { studyId: typo });
      expect(r).toEqual({
        ok: false,
        error: { code: 'not_enrolled', message: `This site is not enrolled in study ${typo}. It is enrolled in: ${study.id}.`, hint: expect.stringContaining('Check the study id for a typo') },
      });
    } finally {
      await f.close();
    }
  });

  it('read-only FGL_HOME → ledger_read_only naming the folder and FGL_HOME, not "damaged"', async () => {
    const home = await mkdtemp(join(tmpdir(), 'fgl-ro-home-'));
    await chmod(home, 0o555);
    // Root ignores permissions: drop to an unprivileged effective user for the attempt.
    const asRoot = process.geteuid?.() === 0;
    let caught: unknown;
    try {
      if (asRoot) process.seteuid!(65534);
      try {
        createSiteHandlers({ home, resolveModels: () => Promise.reject(new Error('unused')) });
      } catch (e) {
        caught = e;
      }
    } finally {
      if (asRoot) process.seteuid!(0);
      await chmod(home, 0o755);
      await rm(home, { recursive: true, force: true });
    }
    const { result } = await dispatchSiteCall({ 'settings.get': () => Promise.reject(caught) } as never, 'settings.get', {}, { signal: new AbortController().signal, emit: () => {} });
    expect(result).toEqual({
      ok: false,
      error: { code: 'ledger_read_only', message: `The site's data folder ${home} is read-only for this account, so the ledger cannot be written there.`, hint: expect.stringContaining('Set FGL_HOME to a folder this account can write') },
    });
  });

  it('a ledger file this account may not write → ledger_read_only, the data intact', async () => {
    const home = await mkdtemp(join(tmpdir(), 'fgl-ro-file-'));
    const file = join(home, 'ledger.sqlite');
    Ledger.open(file).close();
    await chmod(file, 0o444);
    const asRoot = process.geteuid?.() === 0;
    let caught: unknown;
    try {
      if (asRoot) {
        await chmod(home, 0o777);
        process.seteuid!(65534);
      }
      try {
        Ledger.open(file).close();
      } catch (e) {
        caught = e;
      }
    } finally {
      if (asRoot) process.seteuid!(0);
    }
    expect(caught).toMatchObject({ code: 'ledger_read_only', message: `The ledger ${file} is read-only for this account.` });
    await chmod(file, 0o644);
    expect(Ledger.open(file).integrityCheck()).toEqual(['ok']);
    await rm(home, { recursive: true, force: true });
  });
});
