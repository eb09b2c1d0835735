import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Which privacy units (patients / distinct pictures, by content key) each released row stood
 * for, so a later release whose rows differ from an earlier one's by fewer than k units can be
 * refused (differencing: 13·m₂ − 12·m₁ is the one added image's conditioning). Append-only like
 * the DP budget: a history that could be edited would make the check meaningless.
 */
export const migration005ReleasedRows: Migration = {
  version: 5,
  name: 'released-rows',
  sql: `
CREATE TABLE released_rows (
  id INTEGER PRIMARY KEY,
  package_sha256 TEXT NOT NULL,
  study_id TEXT NOT NULL,
  label INTEGER NOT NULL,
  dp INTEGER NOT NULL CHECK (dp IN (0, 1)),
  units TEXT NOT NULL CHECK (json_valid(units)),
  created_at TEXT NOT NULL
);
CREATE INDEX released_rows_study_label ON released_rows (study_id, label);
CREATE TRIGGER released_rows_no_update BEFORE UPDATE ON released_rows
  BEGIN SELECT RAISE(ABORT, 'released_rows is append-only'); END;
CREATE TRIGGER released_rows_no_delete BEFORE DELETE ON released_rows
  BEGIN SELECT RAISE(ABORT, 'released_rows is append-only'); END;
`,
};
