import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * ε charged per privacy unit by content key (patient / distinct picture), not per folder path: a
 * symlink to the same folder, a copy of it, or the images in a new folder find the ε already
 * spent on them. Append-only, like dp_budget.
 */
export const migration006DpUnitSpend: Migration = {
  version: 6,
  name: 'dp-unit-spend',
  sql: `
CREATE TABLE dp_unit_spend (
  id INTEGER PRIMARY KEY,
  unit_key TEXT NOT NULL,
  study_id TEXT NOT NULL,
  epsilon REAL NOT NULL CHECK (epsilon >= 0),
  delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
  package_sha256 TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX dp_unit_spend_key ON dp_unit_spend (unit_key);
CREATE TRIGGER dp_unit_spend_no_update BEFORE UPDATE ON dp_unit_spend
  BEGIN SELECT RAISE(ABORT, 'dp_unit_spend is append-only'); END;
CREATE TRIGGER dp_unit_spend_no_delete BEFORE DELETE ON dp_unit_spend
  BEGIN SELECT RAISE(ABORT, 'dp_unit_spend is append-only'); END;
`,
};
