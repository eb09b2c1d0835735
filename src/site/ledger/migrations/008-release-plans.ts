import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Release plans (issue #12 item 3): a DP preparation is a plan (rows, exact counts, checks,
 * parameters; no noise drawn, nothing that could leave). Noise is drawn once, when the plan is
 * approved: ε is charged, the package recorded and the plan tied to it in one transaction, so
 * approving the same plan again finds that package instead of drawing fresh noise. A plan is
 * released once: `package_sha256`/`outcome` are written from NULL and never again.
 */
export const migration008ReleasePlans: Migration = {
  version: 8,
  name: 'release-plans',
  sql: `
CREATE TABLE release_plans (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL UNIQUE REFERENCES runs(id),
  dataset_id INTEGER NOT NULL REFERENCES datasets(id),
  study_id TEXT NOT NULL,
  dir TEXT NOT NULL,
  plan_sha256 TEXT NOT NULL,
  epsilon REAL NOT NULL CHECK (epsilon > 0),
  delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
  report TEXT NOT NULL CHECK (json_valid(report)),
  created_at TEXT NOT NULL,
  outcome TEXT CHECK (outcome IN ('package', 'nothing-sent')),
  package_sha256 TEXT REFERENCES packages(sha256),
  approvers TEXT CHECK (approvers IS NULL OR json_valid(approvers)),
  released_at TEXT
);
CREATE TRIGGER release_plans_no_delete BEFORE DELETE ON release_plans
  BEGIN SELECT RAISE(ABORT, 'release plans are kept: their noise was drawn or may be'); END;
CREATE TRIGGER release_plans_release_once BEFORE UPDATE ON release_plans
  WHEN OLD.outcome IS NOT NULL OR NEW.id IS NOT OLD.id OR NEW.run_id IS NOT OLD.run_id OR NEW.plan_sha256 IS NOT OLD.plan_sha256
    OR NEW.epsilon IS NOT OLD.epsilon OR NEW.dir IS NOT OLD.dir OR NEW.study_id IS NOT OLD.study_id OR NEW.dataset_id IS NOT OLD.dataset_id
  BEGIN SELECT RAISE(ABORT, 'a release plan is released once: its noise cannot be drawn again'); END;
`,
};
