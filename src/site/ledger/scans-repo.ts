import type Database from 'better-sqlite3';
import { type Clock, fromJsonObject, type JsonObject, toJson } from './ledger-json';

export type ScanRow = {
  id: number;
  datasetId: number;
  startedAt: string;
  finishedAt: string | null;
  /** Counts summary (usable, skipped by reason, per label...). */
  summary: JsonObject;
};

type Raw = {
  id: number;
  dataset_id: number;
  started_at: string;
  finished_at: string | null;
  summary: string;
};

const toRow = (r: Raw): ScanRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  summary: fromJsonObject(r.summary),
});

export class ScansRepo {
  private readonly startStmt;
  private readonly finishStmt;
  private readonly getStmt;
  private readonly latestStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.startStmt = db.prepare<[number, string], Raw>(
      'INSERT INTO scans (dataset_id, started_at) VALUES (?, ?) RETURNING *',
    );
    this.finishStmt = db.prepare<[string, string, number], Raw>(
      'UPDATE scans SET finished_at = ?, summary = ? WHERE id = ? RETURNING *',
    );
    this.getStmt = db.prepare<[number], Raw>('SELECT * FROM scans WHERE id = ?');
    this.latestStmt = db.prepare<[number], Raw>(
      'SELECT * FROM scans WHERE dataset_id = ? ORDER BY started_at DESC, id DESC LIMIT 1',
    );
  }

  start(datasetId: number): ScanRow {
    return toRow(this.startStmt.get(datasetId, this.now().toISOString())!);
  }

  finish(id: number, summary: JsonObject): ScanRow | undefined {
    const r = this.finishStmt.get(this.now().toISOString(), toJson(summary, 'scan summary'), id);
    return r && toRow(r);
  }

  get(id: number): ScanRow | undefined {
    const r = this.getStmt.get(id);
    return r && toRow(r);
  }

  latest(datasetId: number): ScanRow | undefined {
    const r = this.latestStmt.get(datasetId);
    return r && toRow(r);
  }
}
