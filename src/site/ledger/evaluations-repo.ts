import type Database from 'better-sqlite3';
import { type Clock, fromJsonObject, type JsonObject, toJson } from './ledger-json';

/** An offline evaluation of a model on a local dataset. */
export type EvaluationRow = {
  id: number;
  modelId: number;
  datasetId: number;
  metrics: JsonObject;
  reportPath: string | null;
  createdAt: string;
};

export type EvaluationInput = {
  modelId: number;
  datasetId: number;
  metrics: JsonObject;
  reportPath?: string | null;
};

type Raw = {
  id: number;
  model_id: number;
  dataset_id: number;
  metrics: string;
  report_path: string | null;
  created_at: string;
};

const toRow = (r: Raw): EvaluationRow => ({
  id: r.id,
  modelId: r.model_id,
  datasetId: r.dataset_id,
  metrics: fromJsonObject(r.metrics),
  reportPath: r.report_path,
  createdAt: r.created_at,
});

export class EvaluationsRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly listStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.insertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO evaluations (model_id, dataset_id, metrics, report_path, created_at)
       VALUES (@model_id, @dataset_id, @metrics, @report_path, @created_at) RETURNING *`,
    );
    this.getStmt = db.prepare<[number], Raw>('SELECT * FROM evaluations WHERE id = ?');
    // NULL filters match everything: one statement serves all four filter combinations.
    this.listStmt = db.prepare<
      { model_id: number | null; dataset_id: number | null; limit: number },
      Raw
    >(
      `SELECT * FROM evaluations
       WHERE (@model_id IS NULL OR model_id = @model_id) AND (@dataset_id IS NULL OR dataset_id = @dataset_id)
       ORDER BY id DESC LIMIT @limit`,
    );
  }

  insert(e: EvaluationInput): EvaluationRow {
    return toRow(
      this.insertStmt.get({
        model_id: e.modelId,
        dataset_id: e.datasetId,
        metrics: toJson(e.metrics, 'evaluation metrics'),
        report_path: e.reportPath ?? null,
        created_at: this.now().toISOString(),
      })!,
    );
  }

  get(id: number): EvaluationRow | undefined {
    const r = this.getStmt.get(id);
    return r && toRow(r);
  }

  list(opts?: { modelId?: number; datasetId?: number; limit?: number }): EvaluationRow[] {
    return this.listStmt
      .all({
        model_id: opts?.modelId ?? null,
        dataset_id: opts?.datasetId ?? null,
        limit: opts?.limit ?? 100,
      })
      .map(toRow);
  }
}
