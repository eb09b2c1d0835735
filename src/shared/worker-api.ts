import { z } from 'zod';
import { Sha256Hex } from './model-ref';
import { RoundId } from './server-api';
import { GeneratorSettings } from './study';

/*
 * Contracts between the server and its synthesis workers (`fgl server worker`): the job a worker
 * takes from the Redis queue, and the /v1/worker API it calls to fetch conditioning rows and
 * return images. One source of truth for the server's queue, its routes and the worker.
 */

/** The BullMQ queue every synthesis batch goes through. */
export const SYNTHESIS_QUEUE = 'fgl-synthesis';

export const BatchImage = z.object({
  row: z.number().int().nonnegative(),
  index: z.number().int().nonnegative(),
  label: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
});
export type BatchImage = z.infer<typeof BatchImage>;

/** One queue job: a run of images of one package (row-major), all made with the same settings. */
export const SynthesisBatchJob = z.object({
  schemaVersion: z.literal(1),
  batchId: z.string().regex(/^[a-z0-9-]{1,160}$/),
  roundId: RoundId,
  studyId: z.string().min(1),
  packageSha256: Sha256Hex,
  images: z.array(BatchImage).min(1).max(4096),
  settings: GeneratorSettings.pick({
    scheduler: true,
    steps: true,
    guidance: true,
    height: true,
    width: true,
    negativePrompt: true,
  }),
  /** Digest of the server's generator folder: a worker with other weights refuses the batch. */
  modelDigest: Sha256Hex,
});
export type SynthesisBatchJob = z.infer<typeof SynthesisBatchJob>;

/** GET /v1/worker/rounds/:roundId/packages/:sha256/rows?from&to: rows [from, to) as f32 LE. */
export const RowsQuery = z
  .object({
    from: z.coerce.number().int().nonnegative(),
    to: z.coerce.number().int().positive(),
  })
  .refine((q) => q.to > q.from, { message: 'to must be greater than from' });

/** Response header carrying D of the [to - from, 77, D] float32 body. */
export const ROWS_DIM_HEADER = 'x-fgl-dim';

/** PUT /v1/worker/rounds/:roundId/images/:sha256/:row/:index?batch&device&modelDigest (body: the PNG). */
export const ImageParams = z.object({
  roundId: RoundId,
  sha256: Sha256Hex,
  row: z.coerce.number().int().nonnegative(),
  index: z.coerce.number().int().nonnegative(),
});
export const ImageQuery = z.object({
  batch: z.string().regex(/^[a-z0-9-]{1,160}$/),
  device: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/),
  modelDigest: Sha256Hex,
});

export const ImageStoredResponse = z.object({
  /** false: this image was already stored (a repeated batch); nothing was written. */
  stored: z.boolean(),
  sha256: Sha256Hex,
});
export type ImageStoredResponse = z.infer<typeof ImageStoredResponse>;

/** GET /v1/rounds/:roundId/workers (admin): what each worker delivered for the round. */
export const WorkerProgress = z.object({
  workerId: z.string(),
  name: z.string(),
  images: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  firstAt: z.string(),
  lastAt: z.string(),
  ratePerSec: z.number().nonnegative().nullable(),
});
export const RoundWorkersResponse = z.object({
  roundId: RoundId,
  /** Images stored by workers so far (each counted once). */
  images: z.number().int().nonnegative(),
  workers: z.array(WorkerProgress),
});
export type RoundWorkersResponse = z.infer<typeof RoundWorkersResponse>;
