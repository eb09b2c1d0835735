import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock';
import type { ServerSigningKey } from '../auth/server-signing-key';
import type { RoundProgress, RoundState, RoundStatus } from '../../shared/server-api';
import { publishModel } from '../publish/publish-model';
import { type DataLayout, roundDir } from '../store/data-layout';
import type { ServerStore } from '../store/server-store';
import type { RoundStages, StageContext } from './round-stages';

export type RoundRunnerDeps = {
  store: ServerStore;
  clock: Clock;
  layout: DataLayout;
  signingKey: ServerSigningKey;
  stages: RoundStages | null;
  logger: Logger;
  /** Minimum milliseconds between progress writes to SQLite. */
  progressIntervalMs?: number;
};

class Interrupted extends Error {}

/**
 * Durable round state machine: collecting → synthesizing → training → published | failed, every
 * transition a compare-and-set in SQLite. `run` drives one round from whatever state it is in,
 * so a restart (`resumeRounds`) continues from the last state; stage errors mark it failed with
 * the message, a shutdown leaves it where it was for the next start.
 */
export class RoundRunner {
  private readonly running = new Map<string, Promise<RoundStatus>>();
  private readonly abort = new AbortController();

  constructor(private readonly deps: RoundRunnerDeps) {}

  get available(): boolean {
    return this.deps.stages !== null;
  }

  /** Run (or join the run of) a round to a final state, or until the runner closes. */
  run(roundId: string): Promise<RoundStatus> {
    const existing = this.running.get(roundId);
    if (existing) return existing;
    const p = this.deps.store.rounds
      .requestRun(roundId)
      .then(() => this.drive(roundId))
      .finally(() => this.running.delete(roundId));
    this.running.set(roundId, p);
    return p;
  }

  /** Start every round that was running when the server last stopped; returns their ids. */
  async resumeRounds(): Promise<string[]> {
    if (!this.available) return [];
    const ids = (await this.deps.store.rounds.resumable()).map((r) => r.id);
    for (const id of ids) {
      this.deps.logger.info({ roundId: id }, 'resuming round');
      this.run(id).catch((err: unknown) =>
        this.deps.logger.error({ err, roundId: id }, 'round runner crashed'),
      );
    }
    return ids;
  }

  async close(): Promise<void> {
    this.abort.abort(new Interrupted('server shutting down'));
    await Promise.allSettled([...this.running.values()]);
  }

  private async drive(roundId: string): Promise<RoundStatus> {
    const { store, logger } = this.deps;
    const stages = this.deps.stages;
    for (;;) {
      const round = await store.rounds.get(roundId);
      if (!round) throw new Error(`round ${roundId} does not exist`);
      if (round.state === 'published' || round.state === 'failed') return round;
      if (this.abort.signal.aborted) return round;
      if (!stages) return round;
      try {
        await this.step(round, stages);
      } catch (err) {
        if (this.abort.signal.aborted) {
          logger.info(
            { roundId, state: round.state },
            'round interrupted by shutdown; it resumes on the next start',
          );
          return (await store.rounds.get(roundId))!;
        }
        const message = err instanceof Error ? err.message : String(err);
        logger.error({ roundId, state: round.state, err }, 'round stage failed');
        await store.rounds.transition(roundId, round.state, 'failed', {
          error: `${round.state}: ${message}`,
        });
      }
    }
  }

  private async step(round: RoundStatus, stages: RoundStages): Promise<void> {
    const { store } = this.deps;
    switch (round.state) {
      case 'collecting': {
        const n = await store.rounds.snapshotPackages(round.id, round.studyId);
        if (n === 0)
          throw new Error(
            'the study has no packages yet; wait for sites to upload, then start a new round',
          );
        await this.advance(round.id, 'collecting', 'synthesizing');
        return;
      }
      case 'synthesizing': {
        await this.runStage(round, 'synthesize', async (ctx) => {
          await stages.synthesize(ctx);
          return null;
        });
        await this.advance(round.id, 'synthesizing', 'training');
        return;
      }
      case 'training': {
        const trained = await this.runStage(round, 'train', (ctx) => stages.train(ctx));
        // Publishing is idempotent per round: a crash after the row was written must not publish twice.
        const already = (await store.models.list(round.studyId)).find((m) => m.roundId === round.id);
        const version =
          already?.version ??
          (
            await publishModel({
              store,
              clock: this.deps.clock,
              layout: this.deps.layout,
              signingKey: this.deps.signingKey,
              study: (await store.studies.get(round.studyId))!.manifest,
              roundId: round.id,
              sourceDir: trained.modelDir,
              model: trained.model,
            })
          ).version;
        await this.advance(round.id, 'training', 'published', { modelVersion: version });
        return;
      }
      default:
        return;
    }
  }

  private async advance(
    id: string,
    from: RoundState,
    to: RoundState,
    extra: { modelVersion?: number } = {},
  ): Promise<void> {
    if (!(await this.deps.store.rounds.transition(id, from, to, extra)))
      throw new Error(`round ${id} left state ${from} while this runner was working on it`);
    // Progress belongs to the stage that reported it: a new working state starts without the
    // last one's (no "training: synthesize 176/176"). A finished round keeps its last progress.
    if (to === 'synthesizing' || to === 'training') await this.deps.store.rounds.setProgress(id, null);
    this.deps.logger.info({ roundId: id, from, to }, 'round state');
  }

  /** Run a stage unless its output is already recorded; record progress, checkpoint and output. */
  private async runStage<T>(
    round: RoundStatus,
    stage: string,
    fn: (ctx: StageContext) => Promise<T>,
  ): Promise<T> {
    const { store, logger } = this.deps;
    const prior = await store.stages.get(round.id, stage);
    if (prior?.status === 'done') return prior.output as T;
    const study = (await store.studies.get(round.studyId))!.manifest;
    const workDir = roundDir(this.deps.layout, round.id);
    await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
    await store.stages.start(round.id, stage);
    const started = performance.now();
    const interval = this.deps.progressIntervalMs ?? 250;
    let lastWrite = -Infinity;
    let lastTotal = 0;
    // A stage reports progress and checkpoints synchronously; they are written behind it, in
    // order, and all written (or the first failure thrown) before the stage's outcome is recorded.
    let checkpoint: unknown = prior?.checkpoint ?? null;
    let writes: Promise<void> = Promise.resolve();
    let writeError: unknown = null;
    const writeBehind = (write: () => Promise<void>) => {
      writes = writes.then(write).catch((e: unknown) => {
        writeError ??= e;
      });
    };
    const written = async () => {
      await writes;
      if (writeError !== null) throw writeError;
    };
    const ctx: StageContext = {
      roundId: round.id,
      study,
      packages: await store.rounds.packages(round.id),
      workDir,
      signal: this.abort.signal,
      log: logger.child({ roundId: round.id, stage }),
      progress: (done, total) => {
        lastTotal = total;
        const t = performance.now();
        if (t - lastWrite < interval && done < total) return;
        lastWrite = t;
        const elapsed = (t - started) / 1000;
        const rate = elapsed > 0 && done > 0 ? done / elapsed : null;
        const p: RoundProgress = {
          stage,
          done,
          total,
          ratePerSec: rate,
          etaSec: rate !== null && rate > 0 ? Math.max(0, (total - done) / rate) : null,
          updatedAt: this.deps.clock().toISOString(),
        };
        writeBehind(() => store.rounds.setProgress(round.id, p));
      },
      checkpoint: {
        get: () => checkpoint,
        set: (value) => {
          checkpoint = value;
          writeBehind(() => store.stages.setCheckpoint(round.id, stage, value));
        },
      },
    };
    try {
      const out = await fn(ctx);
      // Work can end early (early stopping): a finished stage shows as complete, not "15/100".
      if (lastTotal > 0) {
        lastWrite = -Infinity;
        ctx.progress(lastTotal, lastTotal);
      }
      await written();
      await store.stages.finish(round.id, stage, 'done', out);
      return out;
    } catch (err) {
      await writes;
      if (!this.abort.signal.aborted)
        await store.stages.finish(round.id, stage, 'failed', { error: (err as Error).message });
      throw err;
    }
  }
}
