import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Aggregate evaluation metrics that sites opted in to share (never per-image results).
 * Released migrations are never edited; the SQL is accepted by SQLite and PostgreSQL alike.
 */
export const migration002ModelEvaluations: Migration = {
  version: 2,
  name: 'model-evaluations',
  sql: `
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
};
