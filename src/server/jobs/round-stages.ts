import type { Logger } from 'pino';
import type { StudyManifest } from '../../shared/study';
import type { TrainedModelInfo } from '../publish/publish-model';
import type { StoredPackage } from '../store/server-store';
import type { RemoteSynthesis } from './remote-synthesis';

/** What a stage gets: the round, its fixed package set, a work folder, progress and a checkpoint. */
export type StageContext = {
  roundId: string;
  study: StudyManifest;
  /** The packages this round trains on, with their file paths (fixed when synthesis starts). */
  packages: StoredPackage[];
  /** `<data>/rounds/<roundId>`: synthetic images, features, the trained model before publishing. */
  workDir: string;
  /** Aborted when the server shuts down; the stage should stop and will be resumed on restart. */
  signal: AbortSignal;
  log: Logger;
  /** Report `done` of `total` units; rate and ETA are computed by the runner and stored. */
  progress(done: number, total: number): void;
  /**
   * Durable per-stage checkpoint (JSON), kept across restarts: a resumed stage reads it to skip
   * work it already did (e.g. the index of the last synthesized batch whose files are fsynced).
   */
  checkpoint: { get(): unknown; set(value: unknown): void };
};

export type TrainResult = { modelDir: string; model: TrainedModelInfo };

/**
 * The seam where the synthesis pipeline (SD UNet + VAE on ONNX Runtime) and the trainer plug in.
 * Both must be restartable: after a crash the runner calls the same stage again with its last
 * checkpoint. Beyond one machine synthesis becomes queue jobs (queued-round-stages.ts, docs/scale.md).
 */
export type RoundStages = {
  synthesize(ctx: StageContext): Promise<void>;
  train(ctx: StageContext): Promise<TrainResult>;
  /** Set when synthesis runs on a queue (queued-round-stages.ts): the server then serves /v1/worker. */
  remote?: RemoteSynthesis;
};

/** Why a round cannot run on this build, or null when stages are wired. */
export const STAGES_NOT_WIRED =
  'this server has no synthesis/training stages wired yet (src/server/jobs/round-stages.ts: the SD pipeline and ' +
  'trainer are plugged in via createServer({ stages }))';
