import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SiteClient } from '../../../src/site/client/site-client';
import type { ProgressEvent } from '../../../src/shared/progress';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../../src/site/ledger/ledger';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { resumePendingUploads, uploadPackage } from '../../../src/site/client/upload-package';
import { createServer } from '../../../src/server/create-server';
import { buildPackage, createStudy, issueToken, sha256Hex, startTestServer, type TestServer } from '../../helpers/server-fixture';

/** What `preparePackage` records for a package it made: dataset, run and package rows. */
function recordPrepared(ledger: Ledger, studyId: string, file: string, bytes: Uint8Array): void {
  const ds = ledger.datasets.upsert({ root: join(tmp, `data-${studyId}`), labelSource: 'folder' });
  const run = ledger.runs.create({ datasetId: ds.id, studyId, options: {} });
  ledger.packages.insert({ runId: run.id, sha256: sha256Hex(bytes), bytes: bytes.length, path: file, rows: 2, privacy: {}, report: {} });
}

let t: TestServer;
let tmp: string;
beforeAll(async () => {
  t = await startTestServer();
  tmp = await mkdtemp(join(tmpdir(), 'fgl-upload-'));
});
afterAll(async () => {
  await t.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('upload progress', () => {
  it('never reports more than the package size while retries resend it to a server that drops every connection', async () => {
    let attempts = 0;
    // Reads each whole upload, then drops the connection without an answer (a proxy or server dying).
    const dropper = http.createServer((req) => {
      attempts++;
      req.on('data', () => {});
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    const file = join(tmp, 'progress.bin');
    const bytes = new Uint8Array(30_312).fill(7);
    await writeFile(file, bytes);
    const events: ProgressEvent[] = [];
    const client = new SiteClient(`http://127.0.0.1:${(dropper.address() as AddressInfo).port}`, 'key', { retries: 3, baseMs: 1, maxMs: 5 });
    try {
      await expect(client.uploadPackage('s1', file, { onProgress: (e) => events.push(e) })).rejects.toMatchObject({ code: 'server_unreachable' });
    } finally {
      dropper.close();
    }
    expect(attempts).toBe(4);
    expect(events.length).toBeGreaterThan(0);
    expect(Math.max(...events.map((e) => e.done))).toBe(bytes.length);
    expect(events.every((e) => e.done <= (e.total ?? 0))).toBe(true);
  });
});

describe('audited upload (real server on loopback, real ledger)', () => {
  it('pins the key, writes one audit row per approved package, and refuses a second approval of the same bytes', async () => {
    const study = await createStudy(t);
    const ledger = Ledger.open(join(tmp, 'a.sqlite'));
    try {
      const { token, serverKeyFingerprint } = await issueToken(t, study.id, 'site A');
      await expect(enrollSite(ledger, t.url, token, { expectFingerprint: 'ab'.repeat(32) })).rejects.toThrow(/does not match the expected/);
      // A mismatch stores nothing (the token is spent, so the coordinator issues another).
      expect(ledger.enrollments.list()).toHaveLength(0);
      const { token: token2 } = await issueToken(t, study.id, 'site A');
      const enrolled = await enrollSite(ledger, t.url, token2, { expectFingerprint: serverKeyFingerprint });
      const bytes = buildPackage(study, enrolled.siteId);
      const file = join(tmp, 'package.safetensors');
      await writeFile(file, bytes);
      await expect(uploadPackage(ledger, file, { approvers: ['Dr. A'] })).rejects.toMatchObject({ code: 'unknown_package' });
      recordPrepared(ledger, study.id, file, bytes);
      const row = await uploadPackage(ledger, file, { approvers: ['Dr. A', 'Privacy Office'] });
      expect(row).toMatchObject({ status: 'accepted', packageSha256: sha256Hex(bytes), bytes: bytes.length, approvers: ['Dr. A', 'Privacy Office'] });
      await expect(uploadPackage(ledger, file, { approvers: ['Someone Else'] })).rejects.toMatchObject({ code: 'already_uploaded' });
      expect(ledger.uploads.list()).toHaveLength(1);
      const listed = await t.api('GET', `/v1/studies/${study.id}/packages`, { key: t.adminKey });
      expect((listed.json as { packages: unknown[] }).packages).toHaveLength(1);
    } finally {
      ledger.close();
    }
  });

  it('keeps an upload pending while the server is down, and finishes it after the restart with exactly one stored package', async () => {
    const t2 = await startTestServer();
    const port = Number(new URL(t2.url).port);
    const study = await createStudy(t2);
    const ledger = Ledger.open(join(tmp, 'b.sqlite'));
    let restarted: Awaited<ReturnType<typeof createServer>> | undefined;
    try {
      const enrolled = await enrollSite(ledger, t2.url, (await issueToken(t2, study.id, 'site B')).token);
      const bytes = buildPackage(study, enrolled.siteId, { seed: 7 });
      const file = join(tmp, 'b.safetensors');
      await writeFile(file, bytes);
      recordPrepared(ledger, study.id, file, bytes);
      await t2.server.close(); // the server goes down (same data dir, same port later)
      await expect(uploadPackage(ledger, file, { approvers: ['Dr. B'] })).rejects.toThrow(/Cannot reach the server/);
      expect(ledger.uploads.list()[0]).toMatchObject({ status: 'pending' });
      restarted = await createServer({ dataDir: t2.dataDir, host: '127.0.0.1', port, logger: { level: 'silent' } });
      await restarted.start();
      const done = await resumePendingUploads(ledger);
      expect(done.map((d) => d.status)).toEqual(['accepted']);
      expect(await resumePendingUploads(ledger)).toEqual([]);
      const pkgs = (await restarted.store.packages.list(study.id)).map((p) => p.sha256);
      expect(pkgs).toEqual([sha256Hex(bytes)]);
    } finally {
      ledger.close();
      await restarted?.close();
      await rm(t2.dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
