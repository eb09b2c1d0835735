import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * The first ledger schema. Released migrations are never edited; a change is a new numbered file.
 * Times are ISO-8601 UTC strings; JSON columns hold objects written by the repos.
 */
export const migration001Initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  root TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  label_source TEXT NOT NULL CHECK (label_source IN ('folder', 'manifest')),
  manifest_path TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE scans (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(summary))
);
CREATE INDEX scans_dataset ON scans(dataset_id, started_at);

CREATE TABLE images (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  scan_id INTEGER REFERENCES scans(id) ON DELETE SET NULL,
  rel_path TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  label TEXT,
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  width INTEGER,
  height INTEGER,
  status TEXT NOT NULL CHECK (status IN ('usable', 'skipped')),
  skip_reason TEXT,
  UNIQUE (dataset_id, rel_path)
);
CREATE INDEX images_content ON images(content_sha256);

-- Keyed by content, not path: renaming or copying an image must not cost a re-embedding.
CREATE TABLE clip_embeddings (
  content_sha256 TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  dim INTEGER NOT NULL CHECK (dim > 0),
  vector BLOB NOT NULL CHECK (length(vector) = 4 * dim),
  created_at TEXT NOT NULL,
  PRIMARY KEY (content_sha256, model_sha256)
) WITHOUT ROWID;

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id),
  study_id TEXT NOT NULL,
  options TEXT NOT NULL CHECK (json_valid(options)),
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
  progress TEXT CHECK (progress IS NULL OR json_valid(progress)),
  error TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX runs_dataset ON runs(dataset_id, started_at);

CREATE TABLE packages (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  sha256 TEXT NOT NULL UNIQUE,
  bytes INTEGER NOT NULL CHECK (bytes > 0),
  path TEXT NOT NULL,
  rows INTEGER NOT NULL CHECK (rows >= 0),
  privacy TEXT NOT NULL CHECK (json_valid(privacy)),
  report TEXT NOT NULL CHECK (json_valid(report)),
  created_at TEXT NOT NULL
);

-- The audit log of everything that left the site. Rows are never deleted and what was sent,
-- where and on whose approval is never rewritten; only the outcome is filled in later.
CREATE TABLE uploads (
  id INTEGER PRIMARY KEY,
  package_sha256 TEXT NOT NULL REFERENCES packages(sha256),
  bytes INTEGER NOT NULL,
  server_url TEXT NOT NULL,
  study_id TEXT NOT NULL,
  -- Nothing leaves without at least one named approver.
  approvers TEXT NOT NULL CHECK (json_valid(approvers) AND json_type(approvers) = 'array' AND json_array_length(approvers) >= 1),
  created_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'accepted', 'rejected', 'failed')),
  response TEXT,
  updated_at TEXT NOT NULL
);
CREATE INDEX uploads_created ON uploads(created_at);
CREATE TRIGGER uploads_no_delete BEFORE DELETE ON uploads
BEGIN
  SELECT RAISE(ABORT, 'the upload audit log is append-only: rows cannot be deleted');
END;
CREATE TRIGGER uploads_no_rewrite
BEFORE UPDATE OF id, package_sha256, bytes, server_url, study_id, approvers, created_at ON uploads
BEGIN
  SELECT RAISE(ABORT, 'the upload audit log is append-only: only status and response may change');
END;

-- Every DP release, so the cumulative epsilon per dataset can never be under-counted.
CREATE TABLE dp_budget (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id),
  study_id TEXT NOT NULL,
  epsilon REAL NOT NULL CHECK (epsilon >= 0),
  delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
  package_sha256 TEXT REFERENCES packages(sha256),
  created_at TEXT NOT NULL
);
CREATE INDEX dp_budget_dataset ON dp_budget(dataset_id);
CREATE TRIGGER dp_budget_no_delete BEFORE DELETE ON dp_budget
BEGIN
  SELECT RAISE(ABORT, 'spent privacy budget cannot be deleted');
END;
CREATE TRIGGER dp_budget_no_update BEFORE UPDATE ON dp_budget
BEGIN
  SELECT RAISE(ABORT, 'spent privacy budget cannot be rewritten');
END;

CREATE TABLE enrollments (
  id INTEGER PRIMARY KEY,
  server_url TEXT NOT NULL,
  study_id TEXT NOT NULL,
  site_id TEXT NOT NULL,
  -- Opaque to the ledger: the caller encrypts it (e.g. Electron safeStorage) before storing.
  api_key BLOB NOT NULL,
  server_public_key TEXT NOT NULL,
  server_key_fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (server_url, study_id)
);

CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  study_id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version > 0),
  dir TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  verified TEXT NOT NULL CHECK (verified IN ('unverified', 'verified', 'failed')),
  verify_error TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (study_id, version)
);

CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY,
  model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  metrics TEXT NOT NULL CHECK (json_valid(metrics)),
  report_path TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX evaluations_model ON evaluations(model_id);
`,
};
