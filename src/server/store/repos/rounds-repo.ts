import type { RoundProgress, RoundState, RoundStatus } from '../../../shared/server-api';
import { type PackageRow, type StoredPackage, toPackage } from './packages-repo';
import type { RepoContext } from './repo-context';

type RoundRow = {
  id: string;
  study_id: string;
  state: RoundState;
  progress: string | null;
  error: string | null;
  model_version: number | null;
  run_requested_at: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
};

const FINAL_STATES: readonly RoundState[] = ['published', 'failed'];
const NOT_FINAL = `state NOT IN (${FINAL_STATES.map(() => '?').join(',')})`;

/**
 * Training rounds and the packages each one was snapshotted with (tables `rounds`,
 * `round_packages`). State changes are compare-and-set, so two runners cannot both advance one.
 */
export class RoundsRepo {
  constructor(private readonly c: RepoContext) {}

  insert(id: string, studyId: string): void {
    const now = this.c.now();
    this.c.db
      .prepare(
        "INSERT INTO rounds (id, study_id, state, created_at, updated_at) VALUES (?, ?, 'collecting', ?, ?)",
      )
      .run(id, studyId, now, now);
  }

  private status(r: RoundRow): RoundStatus {
    const packages = (
      (r.state === 'collecting'
        ? this.c.db
            .prepare('SELECT COUNT(*) AS n FROM packages WHERE study_id = ?')
            .get(r.study_id)
        : this.c.db
            .prepare('SELECT COUNT(*) AS n FROM round_packages WHERE round_id = ?')
            .get(r.id)) as { n: number }
    ).n;
    return {
      id: r.id,
      studyId: r.study_id,
      state: r.state,
      progress: r.progress === null ? null : (JSON.parse(r.progress) as RoundProgress),
      error: r.error,
      packages,
      modelVersion: r.model_version,
      runRequestedAt: r.run_requested_at,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      finishedAt: r.finished_at,
    };
  }

  get(id: string): RoundStatus | undefined {
    const r = this.c.db.prepare('SELECT * FROM rounds WHERE id = ?').get(id) as
      RoundRow | undefined;
    return r && this.status(r);
  }

  latest(studyId: string): RoundStatus | undefined {
    const r = this.c.db
      .prepare(
        'SELECT * FROM rounds WHERE study_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
      )
      .get(studyId) as RoundRow | undefined;
    return r && this.status(r);
  }

  /** The study's round that is not yet published or failed, if any (at most one at a time). */
  open(studyId: string): RoundStatus | undefined {
    const r = this.c.db
      .prepare(
        `SELECT * FROM rounds WHERE study_id = ? AND ${NOT_FINAL} ORDER BY created_at DESC LIMIT 1`,
      )
      .get(studyId, ...FINAL_STATES) as RoundRow | undefined;
    return r && this.status(r);
  }

  /** Rounds a restarted server must carry on with: started (run requested) and not final. */
  resumable(): RoundStatus[] {
    const rows = this.c.db
      .prepare(
        `SELECT * FROM rounds WHERE run_requested_at IS NOT NULL AND ${NOT_FINAL} ORDER BY created_at`,
      )
      .all(...FINAL_STATES) as RoundRow[];
    return rows.map((r) => this.status(r));
  }

  requestRun(id: string): void {
    const now = this.c.now();
    this.c.db
      .prepare(
        'UPDATE rounds SET run_requested_at = COALESCE(run_requested_at, ?), updated_at = ? WHERE id = ?',
      )
      .run(now, now, id);
  }

  /** Move a round to `to` only from `from` (compare-and-set, so two runners cannot both advance it). */
  transition(
    id: string,
    from: RoundState,
    to: RoundState,
    extra: { error?: string; modelVersion?: number } = {},
  ): boolean {
    const now = this.c.now();
    const final = FINAL_STATES.includes(to);
    const res = this.c.db
      .prepare(
        `UPDATE rounds SET state = ?, updated_at = ?, error = COALESCE(?, error),
         model_version = COALESCE(?, model_version), finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE id = ? AND state = ?`,
      )
      .run(to, now, extra.error ?? null, extra.modelVersion ?? null, final ? 1 : 0, now, id, from);
    return res.changes === 1;
  }

  setProgress(id: string, progress: RoundProgress | null): void {
    this.c.db
      .prepare('UPDATE rounds SET progress = ?, updated_at = ? WHERE id = ?')
      .run(progress === null ? null : JSON.stringify(progress), this.c.now(), id);
  }

  /** Fix the round's training set: every package of the study received so far (idempotent). */
  snapshotPackages(roundId: string, studyId: string): number {
    const db = this.c.db;
    return db
      .transaction(() => {
        const existing = (
          db.prepare('SELECT COUNT(*) AS n FROM round_packages WHERE round_id = ?').get(roundId) as {
            n: number;
          }
        ).n;
        if (existing > 0) return existing;
        return db
          .prepare(
            'INSERT INTO round_packages (round_id, sha256) SELECT ?, sha256 FROM packages WHERE study_id = ?',
          )
          .run(roundId, studyId).changes;
      })
      .immediate();
  }

  packages(roundId: string): StoredPackage[] {
    const rows = this.c.db
      .prepare(
        `SELECT p.* FROM packages p JOIN round_packages rp ON rp.sha256 = p.sha256
         WHERE rp.round_id = ? ORDER BY p.received_at, p.sha256`,
      )
      .all(roundId) as PackageRow[];
    return rows.map((r) => toPackage(this.c, r));
  }

  /**
   * How many of a round's packages came from `siteId`: what a site is shown instead of the
   * study-wide count (which would tell it how much the other sites uploaded).
   */
  sitePackages(round: RoundStatus, siteId: string): number {
    const row =
      round.state === 'collecting'
        ? this.c.db
            .prepare('SELECT COUNT(*) AS n FROM packages WHERE study_id = ? AND site_id = ?')
            .get(round.studyId, siteId)
        : this.c.db
            .prepare(
              `SELECT COUNT(*) AS n FROM round_packages rp JOIN packages p ON p.sha256 = rp.sha256
               WHERE rp.round_id = ? AND p.site_id = ?`,
            )
            .get(round.id, siteId);
    return (row as { n: number }).n;
  }
}
