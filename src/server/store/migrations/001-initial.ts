import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * The first server schema: studies, sites and their keys and enrollment tokens, packages, rounds with
 * their packages and stage checkpoints, published models. Times are ISO-8601 UTC strings.
 * Released migrations are never edited; the SQL is accepted by SQLite and PostgreSQL alike.
 */
export const migration001Initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
CREATE TABLE studies (
  id TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE enrollment_tokens (
  token_sha256 TEXT PRIMARY KEY,
  study_id TEXT NOT NULL REFERENCES studies(id),
  site_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT,
  used_by_site TEXT
);
CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE TABLE site_studies (
  site_id TEXT NOT NULL REFERENCES sites(id),
  study_id TEXT NOT NULL REFERENCES studies(id),
  enrolled_at TEXT NOT NULL,
  PRIMARY KEY (site_id, study_id)
);
CREATE TABLE api_keys (
  key_sha256 TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(id),
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
CREATE INDEX api_keys_site ON api_keys(site_id);
CREATE TABLE packages (
  sha256 TEXT PRIMARY KEY,
  study_id TEXT NOT NULL REFERENCES studies(id),
  site_id TEXT NOT NULL REFERENCES sites(id),
  bytes INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  path TEXT NOT NULL,
  received_at TEXT NOT NULL
);
CREATE INDEX packages_study_site ON packages(study_id, site_id);
CREATE TABLE rounds (
  id TEXT PRIMARY KEY,
  study_id TEXT NOT NULL REFERENCES studies(id),
  state TEXT NOT NULL CHECK (state IN ('collecting','synthesizing','training','published','failed')),
  progress TEXT,
  error TEXT,
  model_version INTEGER,
  run_requested_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX rounds_study ON rounds(study_id, created_at);
CREATE TABLE round_packages (
  round_id TEXT NOT NULL REFERENCES rounds(id),
  sha256 TEXT NOT NULL REFERENCES packages(sha256),
  PRIMARY KEY (round_id, sha256)
);
CREATE TABLE round_stages (
  round_id TEXT NOT NULL REFERENCES rounds(id),
  stage TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running','done','failed')),
  checkpoint TEXT,
  output TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  PRIMARY KEY (round_id, stage)
);
CREATE TABLE models (
  study_id TEXT NOT NULL REFERENCES studies(id),
  version INTEGER NOT NULL,
  round_id TEXT NOT NULL REFERENCES rounds(id),
  dir TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  published_at TEXT NOT NULL,
  PRIMARY KEY (study_id, version)
);
`,
};
