/**
 * Round wall time with synthesis on the Redis queue and 1, 2, 4 `fgl server worker` processes,
 * against the same round synthesized in-process (no queue), and the queue's overhead per batch.
 * Everything on this machine over loopback: one Redis (redis-server, no persistence), the server
 * in this process, the workers as child processes (the real CLI). Tiny models (random weights):
 * the compute is real ONNX Runtime work on small graphs, the images mean nothing.
 * Run: npx tsx bench/scale/scale-bench.ts [--workers 1,2,4] [--rows 8] [--images-per-row 8]
 *        [--steps 20] [--batch 4] [--threads 1]
 * Prints one JSON object. Per configuration: wall time of the synthesis stage and of the whole
 * round (start → signed model), images/s, and from the workers' own logs the time per batch in
 * fetching rows, the pipeline, and PNG encoding + upload. "Queue overhead per batch" = (synthesis
 * wall with one worker − in-process synthesis wall) / batches: everything the queue adds (Redis
 * round trips, lock renewals, HTTP, PNG upload, durable store) on one machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { buildStudyManifest } from '../../src/cli/study/build-study';
import { resolveServerModels } from '../../src/cli/commands/server-models';
import { secretHash } from '../../src/server/auth/secret-token';
import { createServer } from '../../src/server/create-server';
import { createDiffusionStages } from '../../src/server/jobs/diffusion-round-stages';
import { createQueuedStages } from '../../src/server/jobs/queued-round-stages';
import type { RoundStages } from '../../src/server/jobs/round-stages';
import { startTestRedis } from '../../tests/helpers/redis-server';
import { buildPackage } from '../../tests/helpers/server-fixture';
import { storeSql } from '../../tests/helpers/store-sql';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const WORKERS = arg('workers', '1,2,4').split(',').map(Number);
const ROWS = Number(arg('rows', '8'));
const PER_ROW = Number(arg('images-per-row', '8'));
const STEPS = Number(arg('steps', '20'));
const BATCH = Number(arg('batch', '4'));
/** ORT intra-op threads per worker (0 = ORT's default, all cores); the in-process run uses the default. */
const THREADS = arg('threads', '0');
const log = (s: string) => process.stderr.write(s + '\n');

type BatchLog = { rows: number; generate: number; upload: number; total: number };
type RunResult = {
  mode: 'in-process' | 'queue';
  workers: number;
  images: number;
  batches: number;
  synthesisSeconds: number;
  roundSeconds: number;
  imagesPerSecond: number;
  perBatchMs?: { rows: number; generate: number; upload: number; total: number };
  perWorkerImages?: number[];
};

function startWorker(o: { queue: string; server: string; models: string; key: string }, batches: BatchLog[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [path.join(REPO, 'bin/fgl.mjs'), 'server', 'worker', '--queue', o.queue, '--server', o.server, '--models', o.models, '--device', 'cpu', '--threads', THREADS],
    { cwd: REPO, env: { ...process.env, FGL_WORKER_KEY: o.key }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const j = JSON.parse(line) as { msg?: string; ms?: BatchLog };
      if (j.msg === 'worker ready') resolve(child);
      if (j.msg === 'batch done' && j.ms) batches.push(j.ms);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
  });
}

async function runRound(o: { mode: 'in-process' | 'queue'; workers: number; models: string; redisUrl: string }): Promise<RunResult> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-scale-bench-'));
  const generatorDir = path.join(o.models, 'generator');
  const local = createDiffusionStages({ generatorDir, clipDir: path.join(o.models, 'clip'), device: 'cpu', batchSize: BATCH });
  const stages: RoundStages =
    o.mode === 'queue' ? createQueuedStages({ queueUrl: o.redisUrl, generatorDir, local, batchImages: BATCH, checkMs: 500 }) : local;
  const server = await createServer({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    stages,
    rateLimit: false,
    logger: { level: 'warn', destination: { write: (s: string) => void process.stderr.write(s) } },
  });
  const url = await server.start();
  const children: ChildProcess[] = [];
  const batchLogs: BatchLog[] = [];
  try {
    const models = await (await import('../../src/cli/study/models-folder')).describeModelsFolder(o.models);
    const study = buildStudyManifest({ name: `Scale bench ${o.mode} ${o.workers}`, classes: ['a', 'b', 'c'], models, k: 3, imagesPerRow: PER_ROW, steps: STEPS });
    await server.store.studies.insert(study);
    const siteId = `site-bench${o.workers}${o.mode === 'queue' ? 'q' : 'l'}`;
    await storeSql(server.store).run('INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)', siteId, 'bench', new Date().toISOString());
    const bytes = buildPackage(study, siteId, { n: ROWS, metadata: { dp_epsilon: null, dp_delta: null, dp_clip: null, dp_sigma: null } });
    const sha = createHash('sha256').update(bytes).digest('hex');
    const file = path.join(server.layout.packagesDir, `${sha}.safetensors`);
    await fs.writeFile(file, bytes);
    await server.store.packages.insert({ sha256: sha, studyId: study.id, siteId, bytes: bytes.length, rows: ROWS, metadata: {}, receivedAt: new Date().toISOString(), path: file });
    if (o.mode === 'queue') {
      const ws = server.store.workers;
      const starts = [];
      for (let i = 0; i < o.workers; i++) {
        const key = `fglw_bench-${i}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 32)}`;
        await ws.insert({ id: `worker-b${i}`, name: `bench-${i}`, keySha256: secretHash(key) });
        starts.push(startWorker({ queue: o.redisUrl, server: url, models: o.models, key }, batchLogs));
      }
      children.push(...(await Promise.all(starts)));
    }
    const roundId = `round-bench-${o.mode}-${o.workers}`;
    await server.store.rounds.insert(roundId, study.id);
    log(`  ${o.mode}${o.mode === 'queue' ? `, ${o.workers} worker(s)` : ''}: ${ROWS * PER_ROW} images, ${STEPS} steps…`);
    const t0 = performance.now();
    const final = await server.runner.run(roundId);
    const roundSeconds = (performance.now() - t0) / 1000;
    if (final.state !== 'published') throw new Error(`round ended ${final.state}: ${final.error}`);
    const stage = (await server.store.stages.get(roundId, 'synthesize'))!;
    const synthesisSeconds = (Date.parse(stage.finishedAt!) - Date.parse(stage.startedAt)) / 1000;
    const images = ROWS * PER_ROW;
    const mean = (k: keyof BatchLog) => Math.round(batchLogs.reduce((s, b) => s + b[k], 0) / Math.max(1, batchLogs.length));
    return {
      mode: o.mode,
      workers: o.workers,
      images,
      batches: Math.ceil(images / BATCH),
      synthesisSeconds,
      roundSeconds: Math.round(roundSeconds * 100) / 100,
      imagesPerSecond: Math.round((images / synthesisSeconds) * 100) / 100,
      ...(o.mode === 'queue'
        ? {
            perBatchMs: { rows: mean('rows'), generate: mean('generate'), upload: mean('upload'), total: mean('total') },
            perWorkerImages: (await server.store.workers.roundProgress(roundId)).map((w) => w.images),
          }
        : {}),
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

const modelsRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-scale-models-'));
const models = (await resolveServerModels(modelsRoot, 'tiny')).dir;
const redis = await startTestRedis();
const results: RunResult[] = [];
try {
  log(`scale bench on ${os.cpus().length} CPU(s): ${ROWS}×${PER_ROW} images per round, batches of ${BATCH}`);
  results.push(await runRound({ mode: 'in-process', workers: 0, models, redisUrl: redis.url }));
  for (const n of WORKERS) results.push(await runRound({ mode: 'queue', workers: n, models, redisUrl: redis.url }));
} finally {
  await redis.stop();
  await fs.rm(modelsRoot, { recursive: true, force: true });
}
const inProcess = results.find((r) => r.mode === 'in-process')!;
const one = results.find((r) => r.mode === 'queue' && r.workers === 1);
console.log(
  JSON.stringify(
    {
      cpus: os.cpus().length,
      ortThreadsPerWorker: Number(THREADS),
      settings: { rows: ROWS, imagesPerRow: PER_ROW, steps: STEPS, batchImages: BATCH },
      runs: results,
      queueOverheadPerBatchMs: one ? Math.round(((one.synthesisSeconds - inProcess.synthesisSeconds) * 1000) / one.batches) : null,
      speedupVsOneWorker: one
        ? Object.fromEntries(results.filter((r) => r.mode === 'queue').map((r) => [r.workers, Math.round((one.synthesisSeconds / r.synthesisSeconds) * 100) / 100]))
        : null,
    },
    null,
    2,
  ),
);
