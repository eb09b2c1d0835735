import type { RepoContext } from './repo-context';

export type StageRecord = {
  roundId: string;
  stage: string;
  status: 'running' | 'done' | 'failed';
  checkpoint: unknown;
  output: unknown;
  attempts: number;
  startedAt: string;
  finishedAt: string | null;
};

type Raw = {
  round_id: string;
  stage: string;
  status: StageRecord['status'];
  checkpoint: string | null;
  output: string | null;
  attempts: number;
  started_at: string;
  finished_at: string | null;
};

/** A round's stage checkpoints (table `round_stages`): what a restarted runner resumes from. */
export class StagesRepo {
  constructor(private readonly c: RepoContext) {}

  get(roundId: string, stage: string): StageRecord | undefined {
    const r = this.c.db
      .prepare('SELECT * FROM round_stages WHERE round_id = ? AND stage = ?')
      .get(roundId, stage) as Raw | undefined;
    if (!r) return undefined;
    return {
      roundId: r.round_id,
      stage: r.stage,
      status: r.status,
      checkpoint: r.checkpoint === null ? null : (JSON.parse(r.checkpoint) as unknown),
      output: r.output === null ? null : (JSON.parse(r.output) as unknown),
      attempts: r.attempts,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    };
  }

  start(roundId: string, stage: string): void {
    this.c.db
      .prepare(
        `INSERT INTO round_stages (round_id, stage, status, attempts, started_at) VALUES (?, ?, 'running', 1, ?)
         ON CONFLICT (round_id, stage) DO UPDATE SET status = 'running', attempts = attempts + 1, finished_at = NULL`,
      )
      .run(roundId, stage, this.c.now());
  }

  setCheckpoint(roundId: string, stage: string, checkpoint: unknown): void {
    this.c.db
      .prepare('UPDATE round_stages SET checkpoint = ? WHERE round_id = ? AND stage = ?')
      .run(JSON.stringify(checkpoint), roundId, stage);
  }

  finish(roundId: string, stage: string, status: 'done' | 'failed', output: unknown): void {
    this.c.db
      .prepare(
        'UPDATE round_stages SET status = ?, output = ?, finished_at = ? WHERE round_id = ? AND stage = ?',
      )
      .run(status, JSON.stringify(output ?? null), this.c.now(), roundId, stage);
  }
}
