import type Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';
import type { Clock } from './ledger-json';

export type ModelVerification = 'unverified' | 'verified' | 'failed';

/** A downloaded global model version. */
export type ModelRow = {
  id: number;
  studyId: string;
  version: number;
  dir: string;
  manifestSha256: string;
  verified: ModelVerification;
  verifyError: string | null;
  createdAt: string;
};

export type ModelInput = {
  studyId: string;
  version: number;
  dir: string;
  manifestSha256: string;
  verified?: ModelVerification;
  verifyError?: string | null;
};

type Raw = {
  id: number;
  study_id: string;
  version: number;
  dir: string;
  manifest_sha256: string;
  verified: ModelVerification;
  verify_error: string | null;
  created_at: string;
};

const toRow = (r: Raw): ModelRow => ({
  id: r.id,
  studyId: r.study_id,
  version: r.version,
  dir: r.dir,
  manifestSha256: r.manifest_sha256,
  verified: r.verified,
  verifyError: r.verify_error,
  createdAt: r.created_at,
});

export class ModelsRepo {
  private readonly insertStmt;
  private readonly verifyStmt;
  private readonly getStmt;
  private readonly byVersionStmt;
  private readonly listStmt;
  private readonly listByStudyStmt;
  private readonly latestStmt;
  private readonly latestVerifiedStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.insertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO models (study_id, version, dir, manifest_sha256, verified, verify_error, created_at)
       VALUES (@study_id, @version, @dir, @manifest_sha256, @verified, @verify_error, @created_at) RETURNING *`,
    );
    this.verifyStmt = db.prepare<[ModelVerification, string | null, number], Raw>(
      'UPDATE models SET verified = ?, verify_error = ? WHERE id = ? RETURNING *',
    );
    this.getStmt = db.prepare<[number], Raw>('SELECT * FROM models WHERE id = ?');
    this.byVersionStmt = db.prepare<[string, number], Raw>(
      'SELECT * FROM models WHERE study_id = ? AND version = ?',
    );
    this.listStmt = db.prepare<[], Raw>('SELECT * FROM models ORDER BY study_id, version DESC');
    this.listByStudyStmt = db.prepare<[string], Raw>(
      'SELECT * FROM models WHERE study_id = ? ORDER BY version DESC',
    );
    this.latestStmt = db.prepare<[string], Raw>(
      'SELECT * FROM models WHERE study_id = ? ORDER BY version DESC LIMIT 1',
    );
    this.latestVerifiedStmt = db.prepare<[string], Raw>(
      `SELECT * FROM models WHERE study_id = ? AND verified = 'verified' ORDER BY version DESC LIMIT 1`,
    );
  }

  insert(m: ModelInput): ModelRow {
    return toRow(
      this.insertStmt.get({
        study_id: m.studyId,
        version: m.version,
        dir: m.dir,
        manifest_sha256: m.manifestSha256,
        verified: m.verified ?? 'unverified',
        verify_error: m.verifyError ?? null,
        created_at: this.now().toISOString(),
      })!,
    );
  }

  setVerified(id: number, verified: ModelVerification, error: string | null = null): ModelRow {
    const r = this.verifyStmt.get(verified, error, id);
    if (!r)
      throw new LedgerError(
        'not_found',
        `model ${id} is not in the ledger`,
        'List models to find its id.',
      );
    return toRow(r);
  }

  get(id: number): ModelRow | undefined {
    const r = this.getStmt.get(id);
    return r && toRow(r);
  }

  byVersion(studyId: string, version: number): ModelRow | undefined {
    const r = this.byVersionStmt.get(studyId, version);
    return r && toRow(r);
  }

  list(studyId?: string): ModelRow[] {
    return (studyId === undefined ? this.listStmt.all() : this.listByStudyStmt.all(studyId)).map(
      toRow,
    );
  }

  /** Highest version held for a study (only verified ones with `verifiedOnly`). */
  latest(studyId: string, opts?: { verifiedOnly?: boolean }): ModelRow | undefined {
    const r = opts?.verifiedOnly
      ? this.latestVerifiedStmt.get(studyId)
      : this.latestStmt.get(studyId);
    return r && toRow(r);
  }
}
