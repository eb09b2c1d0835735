import type Database from 'better-sqlite3';
import { type Clock, fromJsonObject, type JsonObject, toJson } from './ledger-json';

export type PackageRow = {
  id: number;
  runId: number;
  sha256: string;
  bytes: number;
  /** Where package.safetensors lies on this machine. */
  path: string;
  rows: number;
  /** Privacy parameters (k, aggregation, DP epsilon/delta/clip/sigma...). */
  privacy: JsonObject;
  /** The privacy report shown at approval. */
  report: JsonObject;
  createdAt: string;
};

export type PackageInput = Omit<PackageRow, 'id' | 'createdAt'>;

type Raw = {
  id: number;
  run_id: number;
  sha256: string;
  bytes: number;
  path: string;
  rows: number;
  privacy: string;
  report: string;
  created_at: string;
};

const toRow = (r: Raw): PackageRow => ({
  id: r.id,
  runId: r.run_id,
  sha256: r.sha256,
  bytes: r.bytes,
  path: r.path,
  rows: r.rows,
  privacy: fromJsonObject(r.privacy),
  report: fromJsonObject(r.report),
  createdAt: r.created_at,
});

export class PackagesRepo {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly byIdStmt;
  private readonly listStmt;
  private readonly listByRunStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.insertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO packages (run_id, sha256, bytes, path, rows, privacy, report, created_at)
       VALUES (@run_id, @sha256, @bytes, @path, @rows, @privacy, @report, @created_at) RETURNING *`,
    );
    this.getStmt = db.prepare<[string], Raw>('SELECT * FROM packages WHERE sha256 = ?');
    this.byIdStmt = db.prepare<[number], Raw>('SELECT * FROM packages WHERE id = ?');
    this.listStmt = db.prepare<[number], Raw>('SELECT * FROM packages ORDER BY id DESC LIMIT ?');
    this.listByRunStmt = db.prepare<[number], Raw>(
      'SELECT * FROM packages WHERE run_id = ? ORDER BY id',
    );
  }

  insert(p: PackageInput): PackageRow {
    return toRow(
      this.insertStmt.get({
        run_id: p.runId,
        sha256: p.sha256,
        bytes: p.bytes,
        path: p.path,
        rows: p.rows,
        privacy: toJson(p.privacy, 'package privacy parameters'),
        report: toJson(p.report, 'package report'),
        created_at: this.now().toISOString(),
      })!,
    );
  }

  get(sha256: string): PackageRow | undefined {
    const r = this.getStmt.get(sha256);
    return r && toRow(r);
  }

  getById(id: number): PackageRow | undefined {
    const r = this.byIdStmt.get(id);
    return r && toRow(r);
  }

  list(opts?: { runId?: number; limit?: number }): PackageRow[] {
    const rows =
      opts?.runId === undefined
        ? this.listStmt.all(opts?.limit ?? 100)
        : this.listByRunStmt.all(opts.runId);
    return rows.map(toRow);
  }
}
