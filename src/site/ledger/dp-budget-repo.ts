import type Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';
import type { Clock } from './ledger-json';

/** One differentially private release charged to a dataset. */
export type DpEntry = {
  id: number;
  datasetId: number;
  studyId: string;
  epsilon: number;
  delta: number;
  packageSha256: string | null;
  createdAt: string;
};

export type DpInput = Omit<DpEntry, 'id' | 'createdAt' | 'packageSha256'> & {
  packageSha256?: string | null;
};

type Raw = {
  id: number;
  dataset_id: number;
  study_id: string;
  epsilon: number;
  delta: number;
  package_sha256: string | null;
  created_at: string;
};

const toRow = (r: Raw): DpEntry => ({
  id: r.id,
  datasetId: r.dataset_id,
  studyId: r.study_id,
  epsilon: r.epsilon,
  delta: r.delta,
  packageSha256: r.package_sha256,
  createdAt: r.created_at,
});

/**
 * The privacy budget spent per dataset. Entries are append-only (schema triggers): a budget that
 * could be edited down would make the cumulative ε check meaningless.
 */
export class DpBudgetRepo {
  private readonly recordStmt;
  private readonly spentStmt;
  private readonly spentForStudyStmt;
  private readonly listStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.recordStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO dp_budget (dataset_id, study_id, epsilon, delta, package_sha256, created_at)
       VALUES (@dataset_id, @study_id, @epsilon, @delta, @package_sha256, @created_at) RETURNING *`,
    );
    // Basic sequential composition: epsilons (and deltas) add up.
    this.spentStmt = db.prepare<[number], { epsilon: number; delta: number }>(
      'SELECT coalesce(sum(epsilon), 0) AS epsilon, coalesce(sum(delta), 0) AS delta FROM dp_budget WHERE dataset_id = ?',
    );
    this.spentForStudyStmt = db.prepare<[number, string], { epsilon: number; delta: number }>(
      'SELECT coalesce(sum(epsilon), 0) AS epsilon, coalesce(sum(delta), 0) AS delta FROM dp_budget WHERE dataset_id = ? AND study_id = ?',
    );
    this.listStmt = db.prepare<[number], Raw>(
      'SELECT * FROM dp_budget WHERE dataset_id = ? ORDER BY id',
    );
  }

  record(e: DpInput): DpEntry {
    if (!Number.isFinite(e.epsilon) || e.epsilon < 0) {
      throw new LedgerError(
        'bad_value',
        `epsilon ${e.epsilon} is not a non-negative number`,
        'Record the ε the DP mechanism used.',
      );
    }
    if (!Number.isFinite(e.delta) || e.delta < 0 || e.delta >= 1) {
      throw new LedgerError(
        'bad_value',
        `delta ${e.delta} is not in [0, 1)`,
        'Record the δ the DP mechanism used.',
      );
    }
    return toRow(
      this.recordStmt.get({
        dataset_id: e.datasetId,
        study_id: e.studyId,
        epsilon: e.epsilon,
        delta: e.delta,
        package_sha256: e.packageSha256 ?? null,
        created_at: this.now().toISOString(),
      })!,
    );
  }

  /** Cumulative ε spent on a dataset (all studies, or one). 0 when nothing was released. */
  spent(datasetId: number, studyId?: string): number {
    return this.spentTotals(datasetId, studyId).epsilon;
  }

  /** Cumulative (ε, δ) under basic composition. */
  spentTotals(datasetId: number, studyId?: string): { epsilon: number; delta: number } {
    return studyId === undefined
      ? this.spentStmt.get(datasetId)!
      : this.spentForStudyStmt.get(datasetId, studyId)!;
  }

  list(datasetId: number): DpEntry[] {
    return this.listStmt.all(datasetId).map(toRow);
  }
}
