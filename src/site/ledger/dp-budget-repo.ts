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
  private readonly unitSpentStmt;
  private readonly unitRecordStmt;

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
    this.unitSpentStmt = db.prepare<[string], { epsilon: number | null }>(
      `SELECT max(total) AS epsilon FROM (
         SELECT sum(epsilon) AS total FROM dp_unit_spend
          WHERE unit_key IN (SELECT value FROM json_each(?)) GROUP BY unit_key)`,
    );
    this.unitRecordStmt = db.prepare(
      'INSERT INTO dp_unit_spend (unit_key, study_id, epsilon, delta, package_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
  }

  /**
   * The most ε any of these privacy units (content keys: patients / distinct pictures) has spent,
   * over every study and every folder they were read from. 0 when none has been released with DP.
   */
  spentByUnits(unitKeys: readonly string[]): number {
    return this.unitSpentStmt.get(JSON.stringify(unitKeys))!.epsilon ?? 0;
  }

  /** Charge ε to every unit the mechanism read (call inside the transaction that records the package). */
  recordUnits(
    unitKeys: readonly string[],
    e: { studyId: string; epsilon: number; delta: number; packageSha256: string },
  ): void {
    const at = this.now().toISOString();
    for (const key of unitKeys)
      this.unitRecordStmt.run(key, e.studyId, e.epsilon, e.delta, e.packageSha256, at);
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
