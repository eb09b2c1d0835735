import type Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';
import { type Clock, fromJsonObject, type JsonObject, toJson } from './ledger-json';

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

/** One "prepare" run: dataset -> embeddings -> privacy checks -> package. */
export type RunRow = {
  id: number;
  datasetId: number;
  studyId: string;
  options: JsonObject;
  status: RunStatus;
  progress: JsonObject | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
};

export type RunUpdate = { status?: RunStatus; progress?: JsonObject | null; error?: string | null };

type Raw = {
  id: number;
  dataset_id: number;
  study_id: string;
  options: string;
  status: RunStatus;
  progress: string | null;
  error: string | null;
  started_at: string;
  finished_at: string | null;
};

const toRow = (r: Raw): RunRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  studyId: r.study_id,
  options: fromJsonObject(r.options),
  status: r.status,
  progress: r.progress === null ? null : fromJsonObject(r.progress),
  error: r.error,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export class RunsRepo {
  private readonly createStmt;
  private readonly getStmt;
  private readonly updateStmt;
  private readonly listStmt;
  private readonly listByDatasetStmt;
  private readonly interruptStmt;

  constructor(
    private readonly db: Database.Database,
    private readonly now: Clock,
  ) {
    this.createStmt = db.prepare<[number, string, string, string], Raw>(
      `INSERT INTO runs (dataset_id, study_id, options, status, started_at) VALUES (?, ?, ?, 'running', ?) RETURNING *`,
    );
    this.getStmt = db.prepare<[number], Raw>('SELECT * FROM runs WHERE id = ?');
    this.updateStmt = db.prepare<
      [Pick<Raw, 'id' | 'status' | 'progress' | 'error' | 'finished_at'>],
      Raw
    >(
      `UPDATE runs SET status = @status, progress = @progress, error = @error, finished_at = @finished_at
       WHERE id = @id RETURNING *`,
    );
    this.listStmt = db.prepare<[number], Raw>('SELECT * FROM runs ORDER BY id DESC LIMIT ?');
    this.listByDatasetStmt = db.prepare<[number, number], Raw>(
      'SELECT * FROM runs WHERE dataset_id = ? ORDER BY id DESC LIMIT ?',
    );
    this.interruptStmt = db.prepare<[string, string]>(
      `UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE status = 'running'`,
    );
  }

  create(r: { datasetId: number; studyId: string; options: JsonObject }): RunRow {
    return toRow(
      this.createStmt.get(
        r.datasetId,
        r.studyId,
        toJson(r.options, 'run options'),
        this.now().toISOString(),
      )!,
    );
  }

  get(id: number): RunRow | undefined {
    const r = this.getStmt.get(id);
    return r && toRow(r);
  }

  /** Change status/progress/error; a run that reaches done/failed/cancelled gets its finish time. */
  update(id: number, u: RunUpdate): RunRow {
    return this.db.transaction(() => {
      const cur = this.getStmt.get(id);
      if (!cur)
        throw new LedgerError(
          'not_found',
          `run ${id} is not in the ledger`,
          'List runs to find its id.',
        );
      const status = u.status ?? cur.status;
      const finished = status === 'running' ? null : (cur.finished_at ?? this.now().toISOString());
      return toRow(
        this.updateStmt.get({
          id,
          status,
          progress:
            u.progress === undefined
              ? cur.progress
              : u.progress === null
                ? null
                : toJson(u.progress, 'run progress'),
          error: u.error === undefined ? cur.error : u.error,
          finished_at: finished,
        })!,
      );
    })();
  }

  list(opts?: { datasetId?: number; limit?: number }): RunRow[] {
    const limit = opts?.limit ?? 100;
    const rows =
      opts?.datasetId === undefined
        ? this.listStmt.all(limit)
        : this.listByDatasetStmt.all(opts.datasetId, limit);
    return rows.map(toRow);
  }

  /** At startup: runs still 'running' belong to a process that died; mark them failed. */
  failInterrupted(message = 'interrupted: the app stopped while this run was in progress'): number {
    return this.interruptStmt.run(message, this.now().toISOString()).changes;
  }
}
