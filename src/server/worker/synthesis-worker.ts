import os from 'node:os';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { CONDITIONING_TOKENS } from '../../shared/embedding-package';
import {
  ImageStoredResponse,
  ROWS_DIM_HEADER,
  SYNTHESIS_QUEUE,
  SynthesisBatchJob,
} from '../../shared/worker-api';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { DEFAULT_QUEUE_TUNING, openRedis, type QueueTuning } from '../jobs/queue-connection';
import { usesGuidance } from '../synthesis/classifier-free-guidance';
import { encodeSyntheticPng } from '../synthesis/image-files';
import { StableDiffusionPipeline } from '../synthesis/sd-pipeline';

export type SynthesisWorkerOptions = {
  queueUrl: string;
  /** The FGL server's base URL (its /v1/worker API). */
  serverUrl: string;
  /** This worker's key from `fgl server worker enroll`. */
  apiKey: string;
  /** The generator folder: must be the server's (same digest), or every batch is refused. */
  generatorDir: string;
  device: DeviceChoice;
  /** Images per UNet call within a batch. */
  unetBatch?: number;
  /** ONNX Runtime intra-op threads (CPU); 0/absent = ORT's default (all cores). */
  threads?: number;
  log: Logger;
  tuning?: Partial<QueueTuning>;
  /** How long one request to the server may keep failing (server restarting) before the batch attempt fails. */
  serverRetryMs?: number;
};

export type WorkerTotals = { batches: number; stored: number; repeated: number; dropped: number };

export type RunningWorker = {
  /** `<hostname>-<pid>`: the BullMQ worker name on the jobs it holds. */
  readonly name: string;
  readonly totals: WorkerTotals;
  /** The generator digest this worker loaded. */
  readonly modelDigest: string;
  /** Finish the batch in hand (or give it back when `force`), then stop. */
  close(force?: boolean): Promise<void>;
};

class ServerAnswer extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Image uploads of one batch in flight at once. */
const UPLOADS_IN_FLIGHT = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A synthesis worker: takes batches from the Redis queue, fetches their conditioning rows from
 * the server, runs the SD pipeline, and returns each image as PNG. While it works on a batch
 * BullMQ renews its lock; if the process dies the lock expires and another worker takes the batch.
 * Requests to a server that is restarting are retried with backoff for `serverRetryMs`.
 */
export async function startSynthesisWorker(o: SynthesisWorkerOptions): Promise<RunningWorker> {
  const tuning = { ...DEFAULT_QUEUE_TUNING, ...o.tuning };
  const base = o.serverUrl.replace(/\/+$/, '');
  const pipeline = await StableDiffusionPipeline.load(o.generatorDir, {
    device: o.device,
    batchSize: o.unetBatch ?? 1,
    ...(o.threads ? { sessionOptions: { intraOpNumThreads: o.threads } } : {}),
  });
  const modelDigest = await pipeline.modelDigest();
  const negatives = new Map<string, Promise<Float32Array>>();
  const totals: WorkerTotals = { batches: 0, stored: 0, repeated: 0, dropped: 0 };
  const retryMs = o.serverRetryMs ?? 60_000;

  async function call(method: 'GET' | 'PUT', path: string, body?: Uint8Array): Promise<Response> {
    const deadline = Date.now() + retryMs;
    for (let attempt = 0; ; attempt++) {
      let res: Response | null = null;
      let why: string;
      try {
        res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${o.apiKey}`,
            ...(body ? { 'content-type': 'application/octet-stream' } : {}),
          },
          ...(body ? { body } : {}),
        });
        if (res.ok) return res;
        const text = await res.text();
        let code = 'http_' + res.status;
        let message = text.slice(0, 300);
        try {
          const e = (JSON.parse(text) as { error?: { code?: string; message?: string; hint?: string } }).error;
          if (e?.code) code = e.code;
          if (e?.message) message = e.message + (e.hint ? ` (${e.hint})` : '');
        } catch {
          // not the JSON error envelope
        }
        if (res.status < 500 && res.status !== 429) throw new ServerAnswer(res.status, code, message);
        why = `${res.status} ${code}`;
      } catch (err) {
        if (err instanceof ServerAnswer) throw err;
        why = (err as Error).cause ? String((err as { cause: { code?: string } }).cause.code ?? err) : String(err);
      }
      if (Date.now() > deadline) throw new Error(`server ${base} did not answer ${method} ${path}: ${why}`);
      if (attempt === 0) o.log.warn({ path, why }, 'server unavailable; retrying');
      await sleep(Math.min(5_000, 200 * 2 ** attempt));
    }
  }

  async function processBatch(job: Job): Promise<{ stored: number; repeated: number; dropped?: boolean }> {
    const parsed = SynthesisBatchJob.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`not a synthesis batch: ${parsed.error.message}`);
    const b = parsed.data;
    const t0 = performance.now();
    if (b.modelDigest !== modelDigest)
      throw new UnrecoverableError(
        `this worker's generator (${modelDigest.slice(0, 12)}…) is not the server's (${b.modelDigest.slice(0, 12)}…): ` +
          "give every worker a copy of the server's models folder (--models)",
      );
    const from = Math.min(...b.images.map((i) => i.row));
    const to = Math.max(...b.images.map((i) => i.row)) + 1;
    const round = `/v1/worker/rounds/${b.roundId}`;
    let rowsRes: Response;
    try {
      rowsRes = await call('GET', `${round}/packages/${b.packageSha256}/rows?from=${from}&to=${to}`);
    } catch (err) {
      // The round finished or failed meanwhile: nothing to do for this batch.
      if (err instanceof ServerAnswer && err.code === 'round_not_synthesizing') {
        totals.dropped++;
        o.log.info({ batch: b.batchId }, 'round no longer synthesizing; batch dropped');
        return { stored: 0, repeated: 0, dropped: true };
      }
      throw err;
    }
    const dim = Number(rowsRes.headers.get(ROWS_DIM_HEADER));
    const rows = new Float32Array(await rowsRes.arrayBuffer());
    const size = CONDITIONING_TOKENS * dim;
    if (!Number.isInteger(dim) || rows.length !== (to - from) * size)
      throw new Error(`server sent ${rows.length} floats for rows ${from}..${to} with D=${dim}`);
    const s = b.settings;
    let negative = negatives.get(s.negativePrompt);
    if (!negative) {
      negative = usesGuidance(s.guidance)
        ? pipeline.encodeNegative(s.negativePrompt)
        : Promise.resolve(new Float32Array(size));
      negatives.set(s.negativePrompt, negative);
    }
    const conditioning = new Float32Array(b.images.length * size);
    for (const [k, i] of b.images.entries())
      conditioning.set(rows.subarray((i.row - from) * size, (i.row - from + 1) * size), k * size);
    const tRows = performance.now();
    const { images } = await pipeline.generate({
      conditioning,
      negative: await negative,
      guidance: s.guidance,
      scheduler: s.scheduler,
      steps: s.steps,
      height: s.height,
      width: s.width,
      seeds: b.images.map((i) => i.seed),
      batchSize: Math.min(pipeline.batchSize, b.images.length),
    });
    const tGenerated = performance.now();
    let stored = 0;
    let repeated = 0;
    let dropped = false;
    let sent = 0;
    const q = `batch=${b.batchId}&device=${pipeline.device}&modelDigest=${modelDigest}`;
    // Uploads overlap (the server's durable writes wait on the disk, not the CPU); a few at a time.
    const next = b.images.entries();
    const upload = async () => {
      for (let e = next.next(); !e.done && !dropped; e = next.next()) {
        const [k, i] = e.value;
        const png = await encodeSyntheticPng(images[k]!, s.width, s.height);
        let res: Response;
        try {
          res = await call('PUT', `${round}/images/${b.packageSha256}/${i.row}/${i.index}?${q}`, png);
        } catch (err) {
          if (err instanceof ServerAnswer && err.code === 'round_not_synthesizing') {
            dropped = true;
            return;
          }
          throw err;
        }
        const r = ImageStoredResponse.parse(await res.json());
        if (r.stored) stored++;
        else repeated++;
        await job.updateProgress(Math.round((++sent / b.images.length) * 100));
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPLOADS_IN_FLIGHT, b.images.length) }, upload));
    if (dropped) {
      totals.dropped++;
      return { stored, repeated, dropped: true };
    }
    totals.batches++;
    totals.stored += stored;
    totals.repeated += repeated;
    const t1 = performance.now();
    // Where a batch's time goes: fetching rows, the pipeline, PNG encoding + upload.
    const ms = { rows: Math.round(tRows - t0), generate: Math.round(tGenerated - tRows), upload: Math.round(t1 - tGenerated), total: Math.round(t1 - t0) };
    o.log.info({ batch: b.batchId, images: b.images.length, stored, repeated, ms }, 'batch done');
    return { stored, repeated };
  }

  // Stored on every job it takes (BullMQ `processedBy`): who holds which batch, seen from Redis.
  const name = `${os.hostname()}-${process.pid}`;
  let lastError = '';
  const onError = (err: Error) => {
    if (err.message !== lastError) o.log.warn({ err: err.message }, 'queue error (retrying)');
    lastError = err.message;
  };
  const redis = openRedis(o.queueUrl, onError);
  const worker = new Worker(SYNTHESIS_QUEUE, processBatch, {
    name,
    connection: redis.connection,
    // One batch at a time: the pipeline already uses every core (or the GPU) it is given.
    concurrency: 1,
    lockDuration: tuning.lockMs,
    stalledInterval: tuning.stalledCheckMs,
    // A batch can outlive several dead workers before it counts as failed.
    maxStalledCount: 10,
  });
  worker.on('error', onError);
  worker.on('failed', (job, err) =>
    o.log.warn({ batch: job?.id, attempt: job?.attemptsMade, err: err.message }, 'batch attempt failed'),
  );
  await worker.waitUntilReady();
  o.log.info({ queue: SYNTHESIS_QUEUE, name, device: pipeline.device, modelDigest }, 'worker ready');
  return {
    name,
    totals,
    modelDigest,
    async close(force = false) {
      await worker.close(force);
      await redis.close();
      await pipeline.dispose();
    },
  };
}
