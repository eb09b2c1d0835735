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

  async insert(id: string, studyId: string): Promise<void> {
    const now = this.c.now();
    await this.c.db.run(
      "INSERT INTO rounds (id, study_id, state, created_at, updated_at) VALUES (?, ?, 'collecting', ?, ?)",
      [id, studyId, now, now],
    );
  }

  private async status(r: RoundRow): Promise<RoundStatus> {
    const count =
      r.state === 'collecting'
        ? await this.c.db.get<{ n: number }>(
            'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM packages WHERE study_id = ?',
            [r.study_id],
          )
        : await this.c.db.get<{ n: number }>(
            'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM round_packages WHERE round_id = ?',
            [r.id],
          );
    return {
      id: r.id,
      studyId: r.study_id,
      state: r.state,
      progress: r.progress === null ? null : (JSON.parse(r.progress) as RoundProgress),
      error: r.error,
      packages: count!.n,
      modelVersion: r.model_version,
      runRequestedAt: r.run_requested_at,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      finishedAt: r.finished_at,
    };
  }

  async get(id: string): Promise<RoundStatus | undefined> {
    const r = await this.c.db.get<RoundRow>('SELECT * FROM rounds WHERE id = ?', [id]);
    return r && this.status(r);
  }

  async latest(studyId: string): Promise<RoundStatus | undefined> {
    const r = await this.c.db.get<RoundRow>(
      `SELECT * FROM rounds WHERE study_id = ? ORDER BY created_at DESC, ${this.c.db.dialect.roundsInsertOrder} DESC LIMIT 1`,
      [studyId],
    );
    return r && this.status(r);
  }

  /** The study's round that is not yet published or failed, if any (at most one at a time). */
  async open(studyId: string): Promise<RoundStatus | undefined> {
    const r = await this.c.db.get<RoundRow>(
      `SELECT * FROM rounds WHERE study_id = ? AND ${NOT_FINAL} ORDER BY created_at DESC LIMIT 1`,
      [studyId, ...FINAL_STATES],
    );
    return r && this.status(r);
  }

  /** Rounds a restarted server must carry on with: started (run requested) and not final. */
  async resumable(): Promise<RoundStatus[]> {
    const rows = await this.c.db.all<RoundRow>(
      `SELECT * FROM rounds WHERE run_requested_at IS NOT NULL AND ${NOT_FINAL} ORDER BY created_at`,
      FINAL_STATES,
    );
    return Promise.all(rows.map((r) => this.status(r)));
  }

  async requestRun(id: string): Promise<void> {
    const now = this.c.now();
    await this.c.db.run(
      'UPDATE rounds SET run_requested_at = COALESCE(run_requested_at, ?), updated_at = ? WHERE id = ?',
      [now, now, id],
    );
  }

  /** Move a round to `to` only from `from` (compare-and-set, so two runners cannot both advance it). */
  async transition(
    id: string,
    from: RoundState,
    to: RoundState,
    extra: { error?: string; modelVersion?: number } = {},
  ): Promise<boolean> {
    const now = this.c.now();
    const final = FINAL_STATES.includes(to);
    const changes = await this.c.db.run(
      `UPDATE rounds SET state = ?, updated_at = ?, error = COALESCE(?, error),
       model_version = COALESCE(?, model_version), finished_at = CASE WHEN ? = 1 THEN ? ELSE finished_at END
       WHERE id = ? AND state = ?`,
      [to, now, extra.error ?? null, extra.modelVersion ?? null, final ? 1 : 0, now, id, from],
    );
    return changes === 1;
  }

  async setProgress(id: string, progress: RoundProgress | null): Promise<void> {
    await this.c.db.run('UPDATE rounds SET progress = ?, updated_at = ? WHERE id = ?', [
      progress === null ? null : JSON.stringify(progress),
      this.c.now(),
      id,
    ]);
  }

  /** Fix the round's training set: every package of the study received so far (idempotent). */
  snapshotPackages(roundId: string, studyId: string): Promise<number> {
    return this.c.db.transaction(async (tx) => {
      await tx.get(`SELECT id FROM rounds WHERE id = ?${tx.dialect.forUpdate}`, [roundId]);
      const existing = (await tx.get<{ n: number }>(
        'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM round_packages WHERE round_id = ?',
        [roundId],
      ))!.n;
      if (existing > 0) return existing;
      return tx.run(
        'INSERT INTO round_packages (round_id, sha256) SELECT CAST(? AS TEXT), sha256 FROM packages WHERE study_id = ?',
        [roundId, studyId],
      );
    });
  }

  async packages(roundId: string): Promise<StoredPackage[]> {
    const rows = await this.c.db.all<PackageRow>(
      `SELECT p.* FROM packages p JOIN round_packages rp ON rp.sha256 = p.sha256
       WHERE rp.round_id = ? ORDER BY p.received_at, p.sha256`,
      [roundId],
    );
    return rows.map((r) => toPackage(this.c, r));
  }

  /**
   * How many of a round's packages came from `siteId`: what a site is shown instead of the
   * study-wide count (which would tell it how much the other sites uploaded).
   */
  async sitePackages(round: RoundStatus, siteId: string): Promise<number> {
    const row =
      round.state === 'collecting'
        ? await this.c.db.get<{ n: number }>(
            'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM packages WHERE study_id = ? AND site_id = ?',
            [round.studyId, siteId],
          )
        : await this.c.db.get<{ n: number }>(
            `SELECT CAST(COUNT(*) AS INTEGER) AS n FROM round_packages rp JOIN packages p ON p.sha256 = rp.sha256
             WHERE rp.round_id = ? AND p.site_id = ?`,
            [round.id, siteId],
          );
    return row!.n;
  }
}
