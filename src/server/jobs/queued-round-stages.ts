import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { decodePackage } from '../../shared/embedding-package';
import { SYNTHESIS_QUEUE, type BatchImage, type SynthesisBatchJob } from '../../shared/worker-api';
import { SYNTHETIC_DIR } from '../store/data-layout';
import { expectedImage, type ImageFiles, imageFiles, isImageFinished } from '../synthesis/image-files';
import { imageSeed } from '../synthesis/image-seed';
import { packageRows } from '../synthesis/package-rows';
import { checkQueueUrl, DEFAULT_QUEUE_TUNING, openRedis, type QueueTuning } from './queue-connection';
import { RemoteSynthesis } from './remote-synthesis';
import type { RoundStages, StageContext } from './round-stages';

export type QueuedStagesOptions = {
  /** redis:// URL of the queue the workers read. */
  queueUrl: string;
  /** The server's generator folder (its digest is the one workers must match). */
  generatorDir: string;
  /** Training (and anything synthesis left undone) runs in this process, as without a queue. */
  local: RoundStages;
  baseSeed?: number;
  /** Images per queue job. */
  batchImages?: number;
  /** How often the stage re-checks the queue (a failed batch, Redis restarted empty): two Redis calls each. */
  checkMs?: number;
  /** With no new image for this long, every open batch is looked up in the queue (lost or failed jobs). */
  stallMs?: number;
  tuning?: Partial<QueueTuning>;
};

type Batch = {
  job: SynthesisBatchJob;
  files: ImageFiles[];
  /** Indexes into `files` still missing. */
  missing: Set<number>;
};

const DEFAULT_BATCH_IMAGES = 8;

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Every image of the round, in batches of `size` consecutive images of one package (row-major). */
async function planBatches(ctx: StageContext, modelDigest: string, baseSeed: number, size: number): Promise<Batch[]> {
  const g = ctx.study.generator;
  const settings = {
    scheduler: g.scheduler,
    steps: g.steps,
    guidance: g.guidance,
    height: g.height,
    width: g.width,
    negativePrompt: g.negativePrompt,
  };
  const out = join(ctx.workDir, SYNTHETIC_DIR);
  const batches: Batch[] = [];
  for (const p of ctx.packages) {
    const rows = packageRows(decodePackage(new Uint8Array(await readFile(p.path))), ctx.study.classes);
    const images: BatchImage[] = [];
    for (const r of rows)
      for (let index = 0; index < g.imagesPerRow; index++)
        images.push({ row: r.row, index, label: r.label, seed: imageSeed(baseSeed, p.sha256, r.row, index) });
    for (let k = 0; k * size < images.length; k++) {
      const slice = images.slice(k * size, (k + 1) * size);
      const files = slice.map((i) => imageFiles(out, p.sha256, i.row, i.index));
      const missing = new Set<number>();
      for (const [n, i] of slice.entries()) {
        const expect = expectedImage({ studyId: ctx.study.id, packageSha256: p.sha256, image: i, settings, modelDigest });
        if (!(await isImageFinished(files[n]!, expect))) missing.add(n);
      }
      batches.push({
        job: {
          schemaVersion: 1,
          // Deterministic: a restarted server re-adding a batch that is still queued adds nothing.
          batchId: `${ctx.roundId}-${p.sha256.slice(0, 16)}-${k}`,
          roundId: ctx.roundId,
          studyId: ctx.study.id,
          packageSha256: p.sha256,
          images: slice,
          settings,
          modelDigest,
        },
        files,
        missing,
      });
    }
  }
  return batches;
}

/**
 * Round stages whose synthesis runs on a BullMQ queue: the server splits the round into batches
 * (rows × images), enqueues the missing ones, and waits while workers on any number of machines
 * (`fgl server worker`) fetch rows and return PNGs through the /v1/worker API, which stores them
 * exactly as in-process synthesis would. The stage is restartable like the in-process one: it
 * finds the finished images on disk and enqueues only what is missing; a batch lost with a Redis
 * restart is enqueued again, a batch of a dead worker is taken again when its lock expires
 * (BullMQ stalled-job check), and a batch that failed every attempt fails the round with its reason.
 */
export function createQueuedStages(o: QueuedStagesOptions): RoundStages & { remote: RemoteSynthesis } {
  const remote = new RemoteSynthesis({ generatorDir: o.generatorDir, baseSeed: o.baseSeed ?? 0 });
  const tuning = { ...DEFAULT_QUEUE_TUNING, ...o.tuning };
  checkQueueUrl(o.queueUrl);
  const checkMs = o.checkMs ?? 2_000;
  const stallMs = o.stallMs ?? 60_000;

  return {
    remote,
    train: (ctx) => o.local.train(ctx),

    async synthesize(ctx) {
      const digest = await remote.modelDigest();
      const batches = await planBatches(ctx, digest, remote.baseSeed, o.batchImages ?? DEFAULT_BATCH_IMAGES);
      const total = batches.reduce((s, b) => s + b.files.length, 0);
      const byImage = new Map<string, { batch: Batch; n: number }>();
      for (const b of batches)
        for (const [n, i] of b.job.images.entries())
          byImage.set(`${b.job.packageSha256}/${i.row}/${i.index}`, { batch: b, n });
      let missing = batches.reduce((s, b) => s + b.missing.size, 0);
      ctx.progress(total - missing, total);
      if (missing === 0) return;

      let wake: (() => void) | null = null;
      const off = remote.onImageStored((k) => {
        if (k.roundId !== ctx.roundId) return;
        const hit = byImage.get(`${k.packageSha256}/${k.row}/${k.index}`);
        if (!hit || !hit.batch.missing.delete(hit.n)) return;
        missing--;
        ctx.progress(total - missing, total);
        if (missing === 0) wake?.();
      });
      let lastError = '';
      const onError = (err: Error) => {
        if (err.message !== lastError) ctx.log.warn({ err: err.message }, 'queue connection error (retrying)');
        lastError = err.message;
      };
      const redis = openRedis(o.queueUrl, onError);
      const queue = new Queue(SYNTHESIS_QUEUE, { connection: redis.connection });
      queue.on('error', onError);
      const jobOpts = {
        attempts: tuning.attempts,
        backoff: { type: 'exponential' as const, delay: tuning.backoffMs },
        removeOnComplete: true,
        removeOnFail: false,
      };
      const marker = `${SYNTHESIS_QUEUE}:enqueued:${ctx.roundId}`;
      const open = () => batches.filter((b) => b.missing.size > 0);
      const add = async (list: Batch[]) => {
        for (let i = 0; i < list.length; i += 500)
          await abortable(
            queue.addBulk(
              list.slice(i, i + 500).map((b) => ({ name: 'synthesize', data: b.job, opts: { ...jobOpts, jobId: b.job.batchId } })),
            ),
            ctx.signal,
          );
      };
      /** Jobs of open batches that are gone (lost with Redis) are added again; a failed one fails the stage. */
      const scan = async (): Promise<number> => {
        const lost: Batch[] = [];
        for (const b of open()) {
          const j = await abortable(queue.getJob(b.job.batchId), ctx.signal);
          if (!j) lost.push(b);
          else if (b.missing.size > 0 && (await j.getState()) === 'failed')
            throw new Error(
              `synthesis batch ${b.job.batchId} failed after ${j.attemptsMade} attempt(s): ${j.failedReason}. ` +
                'Fix the worker (its log says more) and run the round again (POST /v1/rounds/:id/run).',
            );
        }
        await add(lost);
        return lost.length;
      };
      try {
        const client = redis.keys;
        // A batch that failed every attempt in an earlier run of this stage gets a fresh start.
        for (const b of open()) {
          const j = await abortable(queue.getJob(b.job.batchId), ctx.signal);
          if (j && (await j.getState()) === 'failed') await j.remove();
        }
        // Adding is idempotent per batch id while the job exists. The marker is set after all
        // adds, so a Redis that still has it (even one restored from a snapshot) has every job.
        await add(open());
        await abortable(client.set(marker, ctx.roundId), ctx.signal);
        ctx.log.info({ batches: open().length, images: missing, total }, 'synthesis batches queued');
        let lastDone = total - missing;
        let lastChange = Date.now();
        while (missing > 0) {
          await abortable(
            new Promise<void>((resolve) => {
              const t = setTimeout(resolve, checkMs);
              wake = () => {
                clearTimeout(t);
                resolve();
              };
            }),
            ctx.signal,
          );
          wake = null;
          if (missing === 0) break;
          if ((await abortable(client.get(marker), ctx.signal)) === null) {
            // Redis came back without our jobs (restarted without persistence, or flushed).
            ctx.log.warn({ batches: open().length }, 'the queue lost this round\'s batches; enqueueing the missing ones again');
            await add(open());
            await abortable(client.set(marker, ctx.roundId), ctx.signal);
            continue;
          }
          for (const j of await abortable(queue.getFailed(0, 99), ctx.signal)) {
            const b = j.id?.startsWith(`${ctx.roundId}-`) ? batches.find((x) => x.job.batchId === j.id) : undefined;
            if (b && b.missing.size > 0)
              throw new Error(
                `synthesis batch ${b.job.batchId} failed after ${j.attemptsMade} attempt(s): ${j.failedReason}. ` +
                  'Fix the worker (its log says more) and run the round again (POST /v1/rounds/:id/run).',
              );
          }
          // No image for a while: look at every open batch (lost jobs, failures the list above missed).
          if (total - missing !== lastDone) {
            lastDone = total - missing;
            lastChange = Date.now();
          } else if (Date.now() - lastChange > stallMs) {
            const lost = await scan();
            if (lost > 0) ctx.log.warn({ batches: lost }, 'batches missing from the queue were enqueued again');
            lastChange = Date.now();
          }
        }
        await client.del(marker).catch(() => undefined);
        ctx.log.info({ images: total }, 'synthesis finished (queue)');
      } finally {
        off();
        // Closing waits for Redis; a server shutting down while Redis is away must not hang on it.
        await Promise.race([queue.close().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
        await redis.close();
      }
    },
  };
}
