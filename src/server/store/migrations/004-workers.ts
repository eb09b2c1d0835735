import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Synthesis workers on other machines (docs/scale.md): their hashed keys, and one receipt per
 * image a worker returned, so a batch delivered twice is stored once and progress is per worker.
 * Released migrations are never edited; the SQL is accepted by SQLite and PostgreSQL alike.
 */
export const migration004Workers: Migration = {
  version: 4,
  name: 'workers',
  sql: `
CREATE TABLE workers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  key_sha256 TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE synthesis_receipts (
  round_id TEXT NOT NULL REFERENCES rounds(id),
  package_sha256 TEXT NOT NULL,
  row INTEGER NOT NULL,
  image_index INTEGER NOT NULL,
  worker_id TEXT NOT NULL REFERENCES workers(id),
  batch_id TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  PRIMARY KEY (round_id, package_sha256, row, image_index)
);
CREATE INDEX synthesis_receipts_worker ON synthesis_receipts(round_id, worker_id);
`,
};
