import type Database from 'better-sqlite3';

/**
 * Numbered schema migrations. Append only: a released migration is never edited, a change is a
 * new entry. `PRAGMA user_version` records how many have run.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
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
  // 2: aggregate evaluation metrics that sites opted in to share (never per-image results)
  `
  CREATE TABLE model_evaluations (
    study_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    site_id TEXT NOT NULL REFERENCES sites(id),
    metrics TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (study_id, version, site_id),
    FOREIGN KEY (study_id, version) REFERENCES models(study_id, version)
  );
  `,
  // 3: a token re-issued for a known site (`fgl server site reissue`): redeeming it gives that
  // site a new API key and revokes its old ones
  `
  ALTER TABLE enrollment_tokens ADD COLUMN site_id TEXT REFERENCES sites(id);
  `,
  // 4: synthesis workers on other machines (docs/scale.md): their hashed keys, and one receipt per
  // image a worker returned, so a batch delivered twice is stored once and progress is per worker
  `
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
];

export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length)
    throw new Error(
      `server.db is at schema version ${current} but this fgl knows only ${MIGRATIONS.length}; ` +
        'run the newer fgl that created it, or restore a backup of the data dir',
    );
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
