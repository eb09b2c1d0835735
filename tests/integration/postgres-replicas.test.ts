// More than one machine, on loopback: a PostgreSQL 15 store and a Redis queue started by the test,
// two server processes (API replicas) on the same store and data dir, and three
// `fgl server worker` processes. What one replica stores the other serves (a site enrolls and
// uploads through one, the coordinator sees it through the other), and a round started on one
// replica is synthesized by the three workers with every image stored exactly once.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoundStatus } from '../../src/shared/server-api';
import { expectEveryImageOnce } from '../helpers/synthetic-images';
import { killAllChildren, pollUntil, spawnTsChild, type TsChild } from '../helpers/child-process';
import { startTestRedis, type TestRedis } from '../helpers/redis-server';
import { buildPackage } from '../helpers/server-fixture';
import { storeFactory } from '../helpers/store-engines';
import { getTinyModels } from '../helpers/tiny-models';
import {
  apiClient,
  createStudyOn,
  freePort,
  issueTokenOn,
  NO_DP,
  readAdminKeyFile,
  sha256Hex,
  startServerChild,
  tinyStudyBody,
} from '../reliability/faults/fault-harness';

const CLI = 'bin/fgl.mjs';
const stores = storeFactory();
let storeUrl: string;
let redis: TestRedis;
let modelsDir: string;
let dataDir: string;
let primary: { child: TsChild; url: string };
let replica: { child: TsChild; url: string };
const workers: TsChild[] = [];

async function sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: storeUrl });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

async function enrollWorker(name: string): Promise<string> {
  const c = spawnTsChild(CLI, ['server', 'worker', 'enroll', '--data-dir', dataDir, '--store', storeUrl, '--name', name, '--json'], {
    name: `enroll ${name}`,
  });
  const e = await c.exited;
  if (e.code !== 0) throw new Error(`fgl server worker enroll exited ${e.code}\n${c.tail()}`);
  const out = c.lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  return String((JSON.parse(out) as { apiKey: string }).apiKey);
}

beforeAll(async () => {
  modelsDir = (await getTinyModels()).root;
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-pg-replicas-'));
  [storeUrl, redis] = await Promise.all([stores.postgresUrl(), startTestRedis()]);
  // The primary runs rounds and serves the workers (--queue); the replica serves the API only.
  primary = await startServerChild(
    { dataDir, port: await freePort(), modelsDir, store: storeUrl, queue: { url: redis.url, batchImages: 2, checkMs: 300 } },
    { name: 'server(primary)' },
  );
  replica = await startServerChild({ dataDir, port: await freePort(), store: storeUrl }, { name: 'server(replica)' });
  const keys = await Promise.all(['gpu-1', 'gpu-2', 'gpu-3'].map((n) => enrollWorker(n)));
  for (const [i, key] of keys.entries()) {
    const child = spawnTsChild(
      CLI,
      ['server', 'worker', '--queue', redis.url, '--server', primary.url, '--models', modelsDir, '--device', 'cpu', '--lock-sec', '5'],
      { name: `worker-${i + 1}`, env: { FGL_WORKER_KEY: key }, maxLifetimeMs: 170_000 },
    );
    workers.push(child);
  }
  await Promise.all(workers.map((w) => w.waitForLine((l) => l.json?.msg === 'worker ready', { timeoutMs: 60_000, what: 'worker ready' })));
}, 170_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop(5_000)));
  await primary?.child.stop();
  await replica?.child.stop();
  await killAllChildren();
  await redis?.stop();
  await stores.stop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe('PostgreSQL store, two API replicas, three workers on a Redis queue', () => {
  it('serves what either replica stored, and synthesizes a round with every image exactly once', async () => {
    const adminKey = await readAdminKeyFile(dataDir);
    const onPrimary = apiClient(primary.url, adminKey);
    const onReplica = apiClient(replica.url, adminKey);
    const rows = 3;
    const imagesPerRow = 4;
    const total = rows * imagesPerRow;

    // A study created on the primary, a site enrolled and a package uploaded through the replica.
    const study = await createStudyOn(onPrimary, await tinyStudyBody(modelsDir, { name: 'Replicated', imagesPerRow, steps: 12 }));
    const token = await issueTokenOn(onReplica, study.id, 'Replica site');
    const enrolled = await fetch(`${replica.url}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(enrolled.status).toBe(201);
    const site = (await enrolled.json()) as { siteId: string; apiKey: string };
    const pkg = buildPackage(study, site.siteId, { n: rows, metadata: NO_DP });
    const sha = sha256Hex(pkg);
    const put = await apiClient(replica.url, site.apiKey)('PUT', `/v1/studies/${study.id}/packages/${sha}`, pkg);
    expect(put.status, put.text).toBe(201);
    // The primary lists the package the replica took in, and the site's key works on it too.
    const listed = await onPrimary('GET', `/v1/studies/${study.id}/packages`);
    expect((listed.json as { packages: { sha256: string; siteId: string }[] }).packages).toEqual([
      expect.objectContaining({ sha256: sha, siteId: site.siteId }),
    ]);
    expect((await apiClient(primary.url, site.apiKey)('GET', '/v1/studies')).status).toBe(200);

    // The round runs on the primary; its status is the same through the replica.
    const started = await onPrimary('POST', `/v1/studies/${study.id}/rounds`, { run: true });
    expect(started.status, started.text).toBe(201);
    const roundId = (started.json as { round: RoundStatus }).round.id;
    const final = await pollUntil(
      async () => {
        const r = (await onReplica('GET', `/v1/rounds/${roundId}`)).json as RoundStatus;
        return r.state === 'published' || r.state === 'failed' ? r : undefined;
      },
      { what: 'the round to finish', timeoutMs: 150_000, intervalMs: 200, child: primary.child },
    );
    expect(final.error).toBeNull();
    expect(final).toMatchObject({ state: 'published', modelVersion: 1 });

    // Every image exactly once: one PNG + sidecar per (row, index), one receipt each in PostgreSQL.
    const dir = path.join(dataDir, 'rounds', roundId, 'synthetic', sha);
    await expectEveryImageOnce(dir, rows, imagesPerRow);
    const receipts = await sql<{ row: number; image_index: number; worker: string }>(
      `SELECT r.row, r.image_index, w.name AS worker FROM synthesis_receipts r JOIN workers w ON w.id = r.worker_id
       WHERE r.round_id = $1 ORDER BY r.row, r.image_index`,
      [roundId],
    );
    expect(receipts.map((r) => `${r.row}-${r.image_index}`)).toEqual(
      Array.from({ length: total }, (_, k) => `${Math.floor(k / imagesPerRow)}-${k % imagesPerRow}`),
    );
    expect(receipts.every((r) => ['gpu-1', 'gpu-2', 'gpu-3'].includes(r.worker))).toBe(true);

    // The published model is listed by both replicas.
    for (const api of [onPrimary, onReplica]) {
      const models = await api('GET', `/v1/studies/${study.id}/models`);
      expect((models.json as { models: { version: number }[] }).models.map((m) => m.version)).toEqual([1]);
    }
  }, 170_000);
});
