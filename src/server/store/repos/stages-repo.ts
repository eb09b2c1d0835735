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

  async get(roundId: string, stage: string): Promise<StageRecord | undefined> {
    const r = await this.c.db.get<Raw>(
      'SELECT * FROM round_stages WHERE round_id = ? AND stage = ?',
      [roundId, stage],
    );
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

  async start(roundId: string, stage: string): Promise<void> {
    await this.c.db.run(
      `INSERT INTO round_stages (round_id, stage, status, attempts, started_at) VALUES (?, ?, 'running', 1, ?)
       ON CONFLICT (round_id, stage) DO UPDATE SET status = 'running', attempts = round_stages.attempts + 1, finished_at = NULL`,
      [roundId, stage, this.c.now()],
    );
  }

  async setCheckpoint(roundId: string, stage: string, checkpoint: unknown): Promise<void> {
    await this.c.db.run('UPDATE round_stages SET checkpoint = ? WHERE round_id = ? AND stage = ?', [
      JSON.stringify(checkpoint),
      roundId,
      stage,
    ]);
  }

  async finish(
    roundId: string,
    stage: string,
    status: 'done' | 'failed',
    output: unknown,
  ): Promise<void> {
    await this.c.db.run(
      'UPDATE round_stages SET status = ?, output = ?, finished_at = ? WHERE round_id = ? AND stage = ?',
      [status, JSON.stringify(output ?? null), this.c.now(), roundId, stage],
    );
  }
}
