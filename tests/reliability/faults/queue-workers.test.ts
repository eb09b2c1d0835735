// A round synthesized by three `fgl server worker` processes over a real Redis (BullMQ) and the
// server's /v1/worker API, all on loopback, with faults injected while it runs: SIGKILL a worker
// in the middle of a batch, restart Redis (losing every queued job), SIGKILL the server and start
// it again. The round must publish with every image stored exactly once, the same check as the
// in-process synthesis kill test, now across processes.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoundStatus } from '../../../src/shared/server-api';
import { SYNTHESIS_QUEUE } from '../../../src/shared/worker-api';
import { openRedis } from '../../../src/server/jobs/queue-connection';
import { expectEveryImageOnce } from '../../helpers/synthetic-images';
import { verifyModelFolder } from '../../../src/core/models/verify-model-folder';
import { killAllChildren, pollUntil, spawnTsChild, type TsChild } from '../../helpers/child-process';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';
import { buildPackage } from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import {
  apiClient,
  createStudyOn,
  enrollOn,
  freePort,
  integrityCheck,
  NO_DP,
  queryOnce,
  readAdminKeyFile,
  recordFault,
  roundRow,
  sha256Hex,
  startServerChild,
  tinyStudyBody,
} from './fault-harness';

const SUITE = 'queue-workers';
const CLI = 'bin/fgl.mjs';

let modelsDir: string;
let dataDir: string;
let dbFile: string;
let port: number;
let redis: TestRedis;
let server: { child: TsChild; url: string };
const workers: { child: TsChild; name: string; key: string }[] = [];

async function startServer(): Promise<void> {
  server = await startServerChild(
    { dataDir, port, modelsDir, queue: { url: redis.url, batchImages: 4, checkMs: 300 } },
    { name: 'server(queue)' },
  );
}

async function runCli(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const c = spawnTsChild(CLI, [...args, '--json'], { name: `fgl ${args.slice(0, 3).join(' ')}`, env });
  const e = await c.exited;
  const out = c.lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  if (e.code !== 0) throw new Error(`fgl ${args.join(' ')} exited ${e.code}\n${c.tail()}`);
  return JSON.parse(out) as Record<string, unknown>;
}

async function startWorker(key: string, label: string): Promise<{ child: TsChild; name: string; key: string }> {
  const child = spawnTsChild(
    CLI,
    ['server', 'worker', '--queue', redis.url, '--server', server.url, '--models', modelsDir, '--device', 'cpu', '--lock-sec', '2'],
    { name: label, env: { FGL_WORKER_KEY: key }, maxLifetimeMs: 170_000 },
  );
  const ready = await child.waitForLine((l) => l.json?.msg === 'worker ready', { timeoutMs: 60_000, what: 'worker ready' });
  return { child, name: String(ready.json!.name), key };
}

beforeAll(async () => {
  modelsDir = (await getTinyModels()).root;
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-queue-'));
  dbFile = path.join(dataDir, 'server.db');
  port = await freePort();
  redis = await startTestRedis();
  await startServer();
  // Three workers, each with its own key from the real enroll command.
  const keys = [];
  for (let i = 1; i <= 3; i++) {
    const r = await runCli(['server', 'worker', 'enroll', '--data-dir', dataDir, '--name', `gpu-${i}`]);
    expect(String(r.apiKey)).toMatch(/^fglw_/);
    keys.push(String(r.apiKey));
  }
  // Stored hashed: the key itself is nowhere in the database.
  const stored = queryOnce<{ key_sha256: string }>(dbFile, 'SELECT key_sha256 FROM workers');
  expect(stored.map((s) => s.key_sha256).sort()).toEqual(keys.map((k) => sha256Hex(k)).sort());
  workers.push(...(await Promise.all(keys.map((k, i) => startWorker(k, `worker-${i + 1}`)))));
}, 150_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.child.stop(5_000)));
  await server?.child.stop();
  await killAllChildren();
  await redis?.stop();
  if (dataDir) {
    expect(integrityCheck(dbFile)).toEqual(['ok']);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

describe('synthesis on a Redis queue with three worker processes', () => {
  it('survives a worker SIGKILLed mid-batch, a Redis restart and a server SIGKILL: every image exactly once, one signed model', async () => {
    let admin = apiClient(server.url, await readAdminKeyFile(dataDir));
    const rows = 6;
    const imagesPerRow = 8;
    const total = rows * imagesPerRow;
    const study = await createStudyOn(admin, await tinyStudyBody(modelsDir, { name: 'Queue round', imagesPerRow, steps: 12 }));
    const site = await enrollOn(server.url, admin, study.id, 'Queue site');
    const pkg = buildPackage(study, site.siteId, { n: rows, metadata: NO_DP });
    const packageSha = sha256Hex(pkg);
    expect((await apiClient(server.url, site.apiKey)('PUT', `/v1/studies/${study.id}/packages/${packageSha}`, pkg)).status).toBe(201);
    const started = await admin('POST', `/v1/studies/${study.id}/rounds`, { run: true });
    expect(started.status, started.text).toBe(201);
    const roundId = (started.json as { round: RoundStatus }).round.id;
    const dir = path.join(dataDir, 'rounds', roundId, 'synthetic', packageSha);
    const sidecars = async () => (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /^\d+-\d+\.json$/.test(n));
    const receipts = () => queryOnce<{ n: number }>(dbFile, 'SELECT COUNT(*) AS n FROM synthesis_receipts WHERE round_id = ?', roundId)[0]!.n;

    // Fault 1: SIGKILL worker 1 while it holds a batch (BullMQ records who holds each active job).
    const conn = openRedis(redis.url, () => undefined);
    const queue = new Queue(SYNTHESIS_QUEUE, { connection: conn.connection });
    queue.on('error', () => undefined);
    const victim = workers[0]!;
    const held = await pollUntil(
      async () => (await queue.getActive()).find((j) => j.processedBy === victim.name),
      { what: 'worker 1 to hold a batch', timeoutMs: 60_000, intervalMs: 5, child: server.child },
    );
    await victim.child.kill9();
    const atWorkerKill = { images: (await sidecars()).length, batch: held.id };
    await queue.close();
    await conn.close();

    // Fault 2: restart Redis once a third of the images are stored: the queue comes back empty.
    await pollUntil(async () => ((await sidecars()).length >= total / 3 ? true : undefined), {
      what: `${total / 3} images`, timeoutMs: 60_000, intervalMs: 10, child: server.child,
    });
    await redis.restart();
    const atRedisRestart = (await sidecars()).length;
    // The server notices the empty queue and enqueues the missing batches again.
    await server.child.waitForLine((l) => String(l.json?.msg ?? '').includes("queue lost this round's batches"), {
      timeoutMs: 30_000,
      what: 're-enqueue after the Redis restart',
    });

    // Fault 3: SIGKILL the server once more images arrived (workers keep retrying their uploads).
    await pollUntil(async () => ((await sidecars()).length >= atRedisRestart + 4 ? true : undefined), {
      what: 'images after the Redis restart', timeoutMs: 60_000, intervalMs: 10, child: server.child,
    });
    await server.child.kill9();
    expect(roundRow(dbFile, roundId)!.state).toBe('synthesizing');
    const done = await sidecars();
    expect(done.length).toBeLessThan(total);
    const before = new Map<string, { ino: number; mtimeMs: number; sha: string }>();
    for (const name of done) {
      const png = path.join(dir, name.replace('.json', '.png'));
      const st = await fs.stat(png);
      before.set(name, { ino: st.ino, mtimeMs: st.mtimeMs, sha: sha256Hex(await fs.readFile(png)) });
    }

    const t0 = performance.now();
    await startServer();
    admin = apiClient(server.url, await readAdminKeyFile(dataDir));
    const final = await pollUntil(
      () => {
        const r = roundRow(dbFile, roundId);
        return r && (r.state === 'published' || r.state === 'failed') ? r : undefined;
      },
      { what: 'the round to finish', timeoutMs: 120_000, intervalMs: 50, child: server.child },
    );
    const recoverySeconds = (performance.now() - t0) / 1000;
    expect(final.error).toBeNull();
    expect(final.state).toBe('published');

    // Every image exactly once: one PNG + sidecar per (row, index), no temp files, hashes match,
    // one receipt each (the primary key forbids a second), nothing stored before the faults rewritten.
    for (const rec of await expectEveryImageOnce(dir, rows, imagesPerRow)) expect([rec.steps, rec.device]).toEqual([12, 'cpu']);
    expect(receipts()).toBe(total);
    for (const [name, b] of before) {
      const st = await fs.stat(path.join(dir, name.replace('.json', '.png')));
      expect({ ino: st.ino, mtimeMs: st.mtimeMs }, `${name} was rewritten`).toEqual({ ino: b.ino, mtimeMs: b.mtimeMs });
    }
    // The killed worker's batch was finished by another worker.
    const heldBy = queryOnce<{ worker_id: string; n: number }>(
      dbFile,
      'SELECT worker_id, COUNT(*) AS n FROM synthesis_receipts WHERE round_id = ? AND batch_id = ? GROUP BY worker_id',
      roundId,
      held.id,
    );
    expect(heldBy.reduce((s, r) => s + r.n, 0)).toBe(4);

    // Per-worker progress: over the API and in `fgl server round status`.
    const api = await admin('GET', `/v1/rounds/${roundId}/workers`);
    expect(api.status, api.text).toBe(200);
    const perWorker = api.json as { images: number; workers: { name: string; images: number }[] };
    expect(perWorker.images).toBe(total);
    expect(perWorker.workers.reduce((s, w) => s + w.images, 0)).toBe(total);
    expect(perWorker.workers.length).toBeGreaterThanOrEqual(2);
    const status = await runCli(['server', 'round', 'status', '--data-dir', dataDir, '--round', roundId]);
    expect((status.round as RoundStatus).state).toBe('published');
    expect((status.workers as { images: number }[]).reduce((s, w) => s + w.images, 0)).toBe(total);

    // One signed model that verifies as a site would check it.
    const manifest = await verifyModelFolder(path.join(dataDir, 'models', study.id, '1'), {
      publicKeyPem: site.serverPublicKey,
      pinnedFingerprint: site.fingerprint,
    });
    expect(manifest.roundId).toBe(roundId);
    expect(manifest.training.samples).toBe(total);

    await recordFault({
      suite: SUITE,
      test: 'three workers',
      fault: 'SIGKILL a worker mid-batch, restart Redis (queue lost), SIGKILL the server',
      injectedAt: { imagesAtWorkerKill: atWorkerKill.images, imagesAtRedisRestart: atRedisRestart, imagesAtServerKill: done.length, imagesTotal: total },
      recovered: true,
      recoverySeconds,
      details: { perWorker: perWorker.workers.map((w) => ({ name: w.name, images: w.images })), receipts: total },
    });
  });
});
