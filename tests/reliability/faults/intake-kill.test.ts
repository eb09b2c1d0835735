// kill -9 of the server while a large package PUT is in flight: no partial package may ever be
// in the store, and the site's own retry (SiteClient) completes against the restarted server
// with exactly one stored package.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage } from '../../../src/shared/embedding-package';
import { SiteClient } from '../../../src/site/client/site-client';
import { killAllChildren, pollUntil, type TsChild } from '../../helpers/child-process';
import { buildPackage, studyBody, TEST_ENCODER_SHA } from '../../helpers/server-fixture';
import {
  apiClient,
  createStudyOn,
  enrollOn,
  freePort,
  integrityCheck,
  queryOnce,
  readAdminKeyFile,
  recordFault,
  sha256Hex,
  startServerChild,
} from './fault-harness';
import { ThrottleProxy } from './throttle-proxy';

let dataDir: string;
let work: string;
let port: number;
let server: { child: TsChild; url: string };
let proxy: ThrottleProxy;

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fault-intake-'));
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fault-intake-site-'));
  port = await freePort();
  server = await startServerChild({ dataDir, port }, { name: 'server#1' });
  proxy = await ThrottleProxy.start(port);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await server?.child.stop();
  await killAllChildren();
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.rm(work, { recursive: true, force: true });
});

/** The packages folder and table agree, and every stored file is a complete package with the hash it is named by. */
async function expectConsistentStore(): Promise<{ files: string[]; rows: string[] }> {
  const packagesDir = path.join(dataDir, 'packages');
  const files = (await fs.readdir(packagesDir)).sort();
  const rows = queryOnce<{ sha256: string; bytes: number; path: string }>(
    path.join(dataDir, 'server.db'),
    'SELECT sha256, bytes, path FROM packages ORDER BY sha256',
  );
  expect(files).toEqual(rows.map((r) => `${r.sha256}.safetensors`));
  for (const r of rows) {
    const bytes = await fs.readFile(path.join(packagesDir, `${r.sha256}.safetensors`));
    expect(bytes.length).toBe(r.bytes);
    expect(sha256Hex(bytes)).toBe(r.sha256);
    expect(() => decodePackage(new Uint8Array(bytes))).not.toThrow();
  }
  return { files, rows: rows.map((r) => r.sha256) };
}

describe('server killed during package intake', () => {
  it('a torn upload never becomes a package; the retry after the restart stores exactly one', async () => {
    const admin = apiClient(server.url, await readAdminKeyFile(dataDir));
    const dim = 768;
    const study = await createStudyOn(
      admin,
      studyBody({ encoder: { id: 'fgl-test/encoder-768', sha256: TEST_ENCODER_SHA, dim } }),
    );
    const site = await enrollOn(server.url, admin, study.id, 'intake site');
    // 160 rows × 77 × 768 × f16 ≈ 19 MB: long enough on the wire (throttled) to kill mid-way.
    const pkg = buildPackage(study, site.siteId, { n: 160, dim });
    const sha = sha256Hex(pkg);
    const file = path.join(work, 'package.safetensors');
    await fs.writeFile(file, pkg);

    proxy.up.bytesPerSec = 6 * 1024 * 1024;
    const client = new SiteClient(proxy.url, site.apiKey, { retries: 8, baseMs: 100, maxMs: 500 });
    const t0 = performance.now();
    const upload = client.uploadPackage(study.id, file);
    upload.catch(() => undefined);

    // Kill once the server has a few MB of the body on disk.
    const packagesDir = path.join(dataDir, 'packages');
    const partial = await pollUntil(
      async () => {
        for (const n of await fs.readdir(packagesDir)) {
          if (!n.endsWith('.part')) continue;
          const size = await fs.stat(path.join(packagesDir, n)).then(
            (s) => s.size,
            () => 0,
          );
          if (size >= 4 * 1024 * 1024) return n;
        }
        return undefined;
      },
      { what: 'a partly received upload', timeoutMs: 30_000, intervalMs: 5, child: server.child },
    );
    // The client's retries wait at the proxy until the test has looked at the store.
    proxy.hold();
    await server.child.kill9();
    const partBytes = (await fs.stat(path.join(packagesDir, partial))).size;
    expect(partBytes).toBeLessThan(pkg.length);
    expect(await fs.readdir(packagesDir)).not.toContain(`${sha}.safetensors`);
    expect(
      queryOnce(
        path.join(dataDir, 'server.db'),
        'SELECT sha256 FROM packages WHERE sha256 = ?',
        sha,
      ),
    ).toEqual([]);

    const t1 = performance.now();
    server = await startServerChild({ dataDir, port }, { name: 'server#2' });
    // The restart swept the torn temp file; what is stored is whole and matches the table.
    const afterRestart = await expectConsistentStore();
    expect(afterRestart.files).toEqual([]);

    proxy.up.bytesPerSec = null;
    proxy.release();
    const res = await upload;
    const recoverySeconds = (performance.now() - t1) / 1000;
    expect(res).toEqual({ status: 'created', sha256: sha, bytes: pkg.length });
    const stored = await expectConsistentStore();
    expect(stored.rows).toEqual([sha]);
    // The first attempt died with the server: the client really did retry.
    const puts = proxy.requests.filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThanOrEqual(2);

    // Sending it once more is a no-op, not a second copy.
    expect((await client.uploadPackage(study.id, file)).status).toBe('exists');
    expect((await expectConsistentStore()).rows).toEqual([sha]);
    expect(integrityCheck(path.join(dataDir, 'server.db'))).toEqual(['ok']);

    await recordFault({
      suite: 'intake-kill',
      test: 'intake',
      fault: 'SIGKILL server during a package PUT',
      injectedAt: { packageBytes: pkg.length, bytesOnServerAtKill: partBytes },
      recovered: true,
      recoverySeconds,
      details: {
        putAttempts: puts.length,
        storedPackages: stored.rows.length,
        uploadSecondsTotal: (performance.now() - t0) / 1000,
      },
    });
  });
});
