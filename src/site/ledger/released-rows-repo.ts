import type Database from 'better-sqlite3';
import type { Clock } from './ledger-json';

/** One released row: the content keys of the privacy units it stood for (local only). */
export type ReleasedRow = {
  packageSha256: string;
  studyId: string;
  label: number;
  dp: boolean;
  units: string[];
};

type Raw = { package_sha256: string; study_id: string; label: number; dp: number; units: string };

/** The rows of earlier packages, by unit content key, for the differencing check (privacy/differencing.ts). */
export class ReleasedRowsRepo {
  private readonly insertStmt;
  private readonly forStudyStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.insertStmt = db.prepare(
      'INSERT INTO released_rows (package_sha256, study_id, label, dp, units, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.forStudyStmt = db.prepare<[string], Raw>(
      'SELECT package_sha256, study_id, label, dp, units FROM released_rows WHERE study_id = ? ORDER BY id',
    );
  }

  record(rows: readonly ReleasedRow[]): void {
    const at = this.now().toISOString();
    for (const r of rows)
      this.insertStmt.run(
        r.packageSha256,
        r.studyId,
        r.label,
        r.dp ? 1 : 0,
        JSON.stringify([...r.units].sort()),
        at,
      );
  }

  forStudy(studyId: string): ReleasedRow[] {
    return this.forStudyStmt.all(studyId).map((r) => ({
      packageSha256: r.package_sha256,
      studyId: r.study_id,
      label: r.label,
      dp: r.dp === 1,
      units: JSON.parse(r.units) as string[],
    }));
  }
}
