import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import {
  type Command,
  DEVICE_OPTION,
  deviceOption,
  intOption,
  optionalString,
  requireString,
  untilStopped,
  UsageError,
} from '../command';
import { newSecret, randomIdPart, secretHash } from '../../server/auth/secret-token';
import { createLogger } from '../../server/logger';
import { startSynthesisWorker } from '../../server/worker/synthesis-worker';
import { resolveModelsOption } from '../study/models-folder';
import { openCommandStore, STORE_OPTION } from './server-store-option';

/** Worker keys carry a prefix so a leaked one is recognisable (and never mistaken for a site key). */
export const WORKER_KEY_PREFIX = 'fglw_';

export const serverWorkerEnrollCommand: Command = {
  path: ['server', 'worker', 'enroll'],
  summary: 'issue an API key for a synthesis worker (shown once, stored hashed)',
  description: `
Creates a synthesis worker and prints its API key once; the server stores only its sha256, like
site keys. The key opens only the /v1/worker endpoints (conditioning rows of synthesizing
rounds, image upload), nothing a site or the coordinator can do. Put it in a file readable only
by the worker's user and pass it with --key-file (or FGL_WORKER_KEY). See docs/scale.md.`,
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'server data directory' },
    store: STORE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'worker name (shown in round status)' },
  },
  examples: ['fgl server worker enroll --data-dir /srv/fgl --name gpu-box-1'],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    const name = requireString(ctx, 'name').trim();
    if (name.length === 0 || name.length > 100)
      throw new UsageError('--name must be 1 to 100 characters');
    const store = await openCommandStore(ctx, dataDir);
    try {
      const key = newSecret(WORKER_KEY_PREFIX);
      const w = await store.workers.insert({
        id: `worker-${randomIdPart(6)}`,
        name,
        keySha256: secretHash(key),
      });
      ctx.out.result({ workerId: w.id, name: w.name, apiKey: key, createdAt: w.createdAt }, () =>
        [
          `Worker ${w.id} ("${w.name}"). Its API key (shown once, not stored):`,
          '',
          `  ${key}`,
          '',
          'Start it with: fgl server worker --queue redis://… --server URL --models DIR --key-file FILE',
        ].join('\n'),
      );
    } finally {
      await store.close();
    }
  },
};

async function workerKey(ctx: Parameters<Command['run']>[0]): Promise<string> {
  const file = optionalString(ctx, 'key-file');
  const key = file ? (await readFile(file, 'utf8')).trim() : process.env.FGL_WORKER_KEY?.trim();
  if (!key)
    throw new UsageError(
      'no worker key: pass --key-file FILE or set FGL_WORKER_KEY',
      'Issue one on the server with `fgl server worker enroll --data-dir DIR --name NAME`.',
    );
  if (!key.startsWith(WORKER_KEY_PREFIX))
    throw new UsageError(`that is not a worker key (worker keys start with ${WORKER_KEY_PREFIX})`);
  return key;
}

export const serverWorkerCommand: Command = {
  path: ['server', 'worker'],
  summary: 'run a synthesis worker: take batches from the Redis queue, return images to the server',
  description: `
Runs on any machine with a GPU (or CPU) and a copy of the server's models folder. It takes
synthesis batches (rows × images) from the queue the server was started with
(\`fgl server start --queue redis://…\`), fetches their conditioning rows from the server with its
worker key, runs Stable Diffusion and returns every image as PNG; the server stores them exactly
as it would its own. Start as many as you like, on as many machines; a worker that dies loses
nothing (its batch is taken again by another when its lease expires). Ctrl-C / SIGTERM finish the
batch in hand, then stop. For an HTTPS server with its own CA set NODE_EXTRA_CA_CERTS=<ca.crt>.`,
  options: {
    queue: { type: 'string', value: 'redis://HOST:PORT', description: "the server's Redis queue" },
    server: { type: 'string', value: 'URL', description: 'the FGL server base URL' },
    models: {
      type: 'string',
      value: 'DIR',
      description: "a copy of the server's models folder (generator/)",
    },
    'key-file': {
      type: 'string',
      value: 'FILE',
      description: 'file holding the worker key (else FGL_WORKER_KEY)',
    },
    device: DEVICE_OPTION,
    'unet-batch': { type: 'string', value: 'N', default: '1', description: 'images per UNet call' },
    threads: {
      type: 'string',
      value: 'N',
      default: '0',
      description:
        'CPU threads for ONNX Runtime (0 = all cores); several workers on one CPU box: cores / workers',
    },
    'lock-sec': {
      type: 'string',
      value: 'SEC',
      default: '30',
      description: "batch lease: a dead worker's batch is taken again after this",
    },
  },
  examples: [
    'fgl server worker --queue redis://10.0.0.5:6379 --server https://fgl.example.org:8787 --models /srv/models --key-file /etc/fgl/worker.key --device cuda',
  ],
  async run(ctx) {
    const queueUrl = requireString(ctx, 'queue');
    const serverUrl = requireString(ctx, 'server');
    const device = deviceOption(ctx);
    const modelsDir = await resolveModelsOption(requireString(ctx, 'models'), process.cwd());
    const apiKey = await workerKey(ctx);
    const lockMs = intOption(ctx, 'lock-sec', 30, 2) * 1000;
    const log = createLogger({ destination: pino.destination(2) }).child({ component: 'worker' });
    const worker = await startSynthesisWorker({
      queueUrl,
      serverUrl,
      apiKey,
      generatorDir: path.join(modelsDir, 'generator'),
      device,
      unetBatch: intOption(ctx, 'unet-batch', 1, 1),
      threads: intOption(ctx, 'threads', 0, 0),
      log,
      tuning: { lockMs, stalledCheckMs: Math.max(1000, Math.round(lockMs / 2)) },
    });
    ctx.out.info(
      `Worker ready (generator ${worker.modelDigest.slice(0, 12)}…); waiting for batches. Ctrl-C to stop.`,
    );
    await untilStopped(ctx.signal);
    await worker.close();
    ctx.out.result(
      worker.totals,
      () =>
        `Worker stopped: ${worker.totals.batches} batch(es), ${worker.totals.stored} image(s) stored, ` +
        `${worker.totals.repeated} already stored, ${worker.totals.dropped} batch(es) dropped (round over).`,
    );
    return 0;
  },
};
