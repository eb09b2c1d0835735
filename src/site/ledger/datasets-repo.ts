import type Database from 'better-sqlite3';
import path from 'node:path';
import type { Clock } from './ledger-json';

export type LabelSource = 'folder' | 'manifest';

export type DatasetRow = {
  id: number;
  /** Absolute path of the image folder; never leaves the site. */
  root: string;
  name: string;
  labelSource: LabelSource;
  manifestPath: string | null;
  createdAt: string;
};

export type DatasetInput = {
  root: string;
  name?: string;
  labelSource: LabelSource;
  manifestPath?: string | null;
};

type Raw = {
  id: number;
  root: string;
  name: string;
  label_source: LabelSource;
  manifest_path: string | null;
  created_at: string;
};

const toRow = (r: Raw): DatasetRow => ({
  id: r.id,
  root: r.root,
  name: r.name,
  labelSource: r.label_source,
  manifestPath: r.manifest_path,
  createdAt: r.created_at,
});

export class DatasetsRepo {
  private readonly upsertStmt;
  private readonly byIdStmt;
  private readonly byRootStmt;
  private readonly listStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.upsertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO datasets (root, name, label_source, manifest_path, created_at)
       VALUES (@root, @name, @label_source, @manifest_path, @created_at)
       ON CONFLICT (root) DO UPDATE SET name = excluded.name, label_source = excluded.label_source,
         manifest_path = excluded.manifest_path
       RETURNING *`,
    );
    this.byIdStmt = db.prepare<[number], Raw>('SELECT * FROM datasets WHERE id = ?');
    this.byRootStmt = db.prepare<[string], Raw>('SELECT * FROM datasets WHERE root = ?');
    this.listStmt = db.prepare<[], Raw>('SELECT * FROM datasets ORDER BY id');
  }

  /** Same root = same dataset (keeps its id, so its privacy budget history stays attached). */
  upsert(d: DatasetInput): DatasetRow {
    const root = path.resolve(d.root);
    return toRow(
      this.upsertStmt.get({
        root,
        name: d.name ?? path.basename(root),
        label_source: d.labelSource,
        manifest_path: d.manifestPath ?? null,
        created_at: this.now().toISOString(),
      })!,
    );
  }

  get(id: number): DatasetRow | undefined {
    const r = this.byIdStmt.get(id);
    return r && toRow(r);
  }

  byRoot(root: string): DatasetRow | undefined {
    const r = this.byRootStmt.get(path.resolve(root));
    return r && toRow(r);
  }

  list(): DatasetRow[] {
    return this.listStmt.all().map(toRow);
  }
}
