import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { StudyManifest } from '../../shared/study';
import type {
  ModelVersion,
  PackageRecord,
  RoundProgress,
  RoundState,
  RoundStatus,
  SiteSummary,
  StudySiteRecord,
  StudySummary,
} from '../../shared/server-api';
import { ownerOnlySqliteFiles } from '../../core/fs/owner-only';
import { migrate } from './migrations';

export type Clock = () => Date;

export type StoredStudy = { id: string; manifest: StudyManifest; createdAt: string };
export type StoredPackage = PackageRecord & { path: string };
export type StoredModel = ModelVersion & { dir: string };
export type StageRecord = {
  roundId: string;
  stage: string;
  status: 'running' | 'done' | 'failed';
  checkpoint: unknown;
  output: unknown;
  attempts: number;
  startedAt: string;
  finishedAt: string | null;
};

export type EnrollOutcome =
  | {
      ok: true;
      siteId: string;
      siteName: string;
      studyId: string;
      studies: string[];
      newKey: boolean;
    }
  | { ok: false; reason: 'invalid' | 'used' | 'expired' | 'site_revoked'; expiresAt?: string };

type PackageRow = {
  sha256: string;
  study_id: string;
  site_id: string;
  bytes: number;
  rows: number;
  metadata: string;
  path: string;
  received_at: string;
};
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
type ModelRow = {
  study_id: string;
  version: number;
  round_id: string;
  dir: string;
  manifest_sha256: string;
  published_at: string;
};

const FINAL_STATES: readonly RoundState[] = ['published', 'failed'];

function toPackage(root: string, r: PackageRow): StoredPackage {
  return {
    sha256: r.sha256,
    studyId: r.study_id,
    siteId: r.site_id,
    bytes: r.bytes,
    rows: r.rows,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    receivedAt: r.received_at,
    path: path.resolve(root, r.path),
  };
}

function toModel(root: string, r: ModelRow): StoredModel {
  return {
    studyId: r.study_id,
    version: r.version,
    roundId: r.round_id,
    manifestSha256: r.manifest_sha256,
    publishedAt: r.published_at,
    dir: path.resolve(root, r.dir),
  };
}

/**
 * The server's SQLite store: one writer (this process, or a CLI admin command between
 * requests — WAL lets them coexist), synchronous typed queries, every multi-row change in a
 * transaction. Files referenced by rows are written durably BEFORE their row is inserted.
 */
export class ServerStore {
  private constructor(
    readonly db: Database.Database,
    readonly clock: Clock,
    /** The data dir: file paths are stored relative to it, so the whole dir can be moved. */
    private readonly root: string,
  ) {}

  private rel(p: string): string {
    return path.relative(this.root, path.resolve(p)).split(path.sep).join('/');
  }

  static open(dbPath: string, clock: Clock = () => new Date()): ServerStore {
    fs.mkdirSync(path.dirname(dbPath), { recursive: true });
    const db = new Database(dbPath);
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL is durable across application crashes; FULL adds power-cut durability of the last commit.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    // Keys' and tokens' hashes, packages' metadata: readable by the server's account only.
    ownerOnlySqliteFiles(dbPath);
    return new ServerStore(db, clock, path.dirname(path.resolve(dbPath)));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  now(): string {
    return this.clock().toISOString();
  }

  // ---- studies -------------------------------------------------------------------------

  insertStudy(manifest: StudyManifest): void {
    this.db
      .prepare('INSERT INTO studies (id, manifest, created_at) VALUES (?, ?, ?)')
      .run(manifest.id, JSON.stringify(manifest), manifest.createdAt);
  }

  getStudy(id: string): StoredStudy | undefined {
    const row = this.db
      .prepare('SELECT id, manifest, created_at FROM studies WHERE id = ?')
      .get(id) as { id: string; manifest: string; created_at: string } | undefined;
    if (!row) return undefined;
    return {
      id: row.id,
      manifest: StudyManifest.parse(JSON.parse(row.manifest)),
      createdAt: row.created_at,
    };
  }

  listStudies(siteId?: string): StudySummary[] {
    const rows = (
      siteId === undefined
        ? this.db
            .prepare('SELECT id, manifest, created_at FROM studies ORDER BY created_at, id')
            .all()
        : this.db
            .prepare(
              `SELECT s.id, s.manifest, s.created_at FROM studies s
               JOIN site_studies ss ON ss.study_id = s.id WHERE ss.site_id = ? ORDER BY s.created_at, s.id`,
            )
            .all(siteId)
    ) as { id: string; manifest: string; created_at: string }[];
    return rows.map((r) => {
      const m = JSON.parse(r.manifest) as { name: string; classes: string[] };
      return { id: r.id, name: m.name, classes: m.classes, createdAt: r.created_at };
    });
  }

  sitesOfStudy(studyId: string): SiteSummary[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.name, s.created_at, s.revoked_at FROM sites s
         JOIN site_studies ss ON ss.site_id = s.id WHERE ss.study_id = ? ORDER BY s.created_at, s.id`,
      )
      .all(studyId) as {
      id: string;
      name: string;
      created_at: string;
      revoked_at: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  isSiteEnrolled(siteId: string, studyId: string): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM site_studies WHERE site_id = ? AND study_id = ?')
        .get(siteId, studyId) !== undefined
    );
  }

  // ---- enrollment, sites, keys ---------------------------------------------------------

  insertEnrollmentToken(t: {
    tokenSha256: string;
    studyId: string;
    siteName: string;
    expiresAt: string;
    /** A token re-issued for this known site (its redemption replaces the site's keys). */
    siteId?: string;
  }): void {
    this.db
      .prepare(
        'INSERT INTO enrollment_tokens (token_sha256, study_id, site_name, created_at, expires_at, site_id) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(t.tokenSha256, t.studyId, t.siteName, this.now(), t.expiresAt, t.siteId ?? null);
  }

  /** The sites of a study with their state, active keys and package counts (coordinator's view). */
  studySites(studyId: string): StudySiteRecord[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.name, s.revoked_at, ss.enrolled_at,
           (SELECT COUNT(*) FROM api_keys k WHERE k.site_id = s.id AND k.revoked_at IS NULL) AS keys,
           (SELECT COUNT(*) FROM packages p WHERE p.site_id = s.id AND p.study_id = ss.study_id) AS packages,
           (SELECT MAX(received_at) FROM packages p WHERE p.site_id = s.id AND p.study_id = ss.study_id) AS last_package
         FROM sites s JOIN site_studies ss ON ss.site_id = s.id
         WHERE ss.study_id = ? ORDER BY ss.enrolled_at, s.id`,
      )
      .all(studyId) as {
      id: string;
      name: string;
      revoked_at: string | null;
      enrolled_at: string;
      keys: number;
      packages: number;
      last_package: string | null;
    }[];
    return rows.map((r) => ({
      siteId: r.id,
      name: r.name,
      state: r.revoked_at === null ? 'active' : 'revoked',
      enrolledAt: r.enrolled_at,
      revokedAt: r.revoked_at,
      activeKeys: r.keys,
      packages: r.packages,
      lastPackageAt: r.last_package,
    }));
  }

  /**
   * Consume a one-time token and enroll, atomically: two concurrent requests with the same
   * token cannot both succeed because the check and the `used_at` update share a transaction
   * (SQLite serialises writers). `existingSiteId` joins an already-enrolled site to the study
   * instead of creating a new site.
   */
  enrollWithToken(a: {
    tokenSha256: string;
    newSiteId: string;
    apiKeySha256: string;
    existingSiteId?: string;
  }): EnrollOutcome {
    return this.db
      .transaction((): EnrollOutcome => {
        const now = this.now();
        const tok = this.db
          .prepare(
            'SELECT study_id, site_name, expires_at, used_at, site_id FROM enrollment_tokens WHERE token_sha256 = ?',
          )
          .get(a.tokenSha256) as
          | {
              study_id: string;
              site_name: string;
              expires_at: string;
              used_at: string | null;
              site_id: string | null;
            }
          | undefined;
        if (!tok) return { ok: false, reason: 'invalid' };
        if (tok.used_at !== null) return { ok: false, reason: 'used' };
        if (tok.expires_at <= now)
          return { ok: false, reason: 'expired', expiresAt: tok.expires_at };

        let siteId: string;
        let siteName: string;
        let newKey: boolean;
        if (tok.site_id !== null) {
          // Re-issued for a known site: it gets a new key; the old ones (lost, stolen) stop
          // working, and a revoked site is active again (the coordinator chose to re-issue).
          siteId = tok.site_id;
          siteName = tok.site_name;
          newKey = true;
          this.db
            .prepare('UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL')
            .run(now, siteId);
          this.db.prepare('UPDATE sites SET revoked_at = NULL WHERE id = ?').run(siteId);
          this.db
            .prepare('INSERT INTO api_keys (key_sha256, site_id, created_at) VALUES (?, ?, ?)')
            .run(a.apiKeySha256, siteId, now);
        } else if (a.existingSiteId !== undefined) {
          const site = this.db
            .prepare('SELECT name, revoked_at FROM sites WHERE id = ?')
            .get(a.existingSiteId) as { name: string; revoked_at: string | null } | undefined;
          if (!site || site.revoked_at !== null) return { ok: false, reason: 'site_revoked' };
          siteId = a.existingSiteId;
          siteName = site.name;
          newKey = false;
        } else {
          siteId = a.newSiteId;
          siteName = tok.site_name;
          newKey = true;
          this.db
            .prepare('INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)')
            .run(siteId, siteName, now);
          this.db
            .prepare('INSERT INTO api_keys (key_sha256, site_id, created_at) VALUES (?, ?, ?)')
            .run(a.apiKeySha256, siteId, now);
        }
        this.db
          .prepare(
            'INSERT OR IGNORE INTO site_studies (site_id, study_id, enrolled_at) VALUES (?, ?, ?)',
          )
          .run(siteId, tok.study_id, now);
        const used = this.db
          .prepare(
            'UPDATE enrollment_tokens SET used_at = ?, used_by_site = ? WHERE token_sha256 = ? AND used_at IS NULL',
          )
          .run(now, siteId, a.tokenSha256);
        if (used.changes !== 1) throw new Error('enrollment token was consumed concurrently');
        const studies = (
          this.db
            .prepare('SELECT study_id FROM site_studies WHERE site_id = ? ORDER BY study_id')
            .all(siteId) as {
            study_id: string;
          }[]
        ).map((r) => r.study_id);
        return { ok: true, siteId, siteName, studyId: tok.study_id, studies, newKey };
      })
      .immediate();
  }

  /** The site an API key (by its sha256) belongs to, if the key and the site are both active. */
  siteForKey(keySha256: string): string | undefined {
    const row = this.db
      .prepare(
        `SELECT k.site_id FROM api_keys k JOIN sites s ON s.id = k.site_id
         WHERE k.key_sha256 = ? AND k.revoked_at IS NULL AND s.revoked_at IS NULL`,
      )
      .get(keySha256) as { site_id: string } | undefined;
    return row?.site_id;
  }

  getSite(siteId: string): SiteSummary | undefined {
    const r = this.db
      .prepare('SELECT id, name, created_at, revoked_at FROM sites WHERE id = ?')
      .get(siteId) as
      { id: string; name: string; created_at: string; revoked_at: string | null } | undefined;
    return r && { id: r.id, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at };
  }

  revokeSite(siteId: string): { revokedAt: string; keysRevoked: number } | undefined {
    return this.db
      .transaction(() => {
        const site = this.db.prepare('SELECT revoked_at FROM sites WHERE id = ?').get(siteId) as
          { revoked_at: string | null } | undefined;
        if (!site) return undefined;
        const now = this.now();
        const revokedAt = site.revoked_at ?? now;
        this.db.prepare('UPDATE sites SET revoked_at = ? WHERE id = ?').run(revokedAt, siteId);
        const keys = this.db
          .prepare('UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL')
          .run(now, siteId);
        return { revokedAt, keysRevoked: keys.changes };
      })
      .immediate();
  }

  // ---- packages ------------------------------------------------------------------------

  getPackage(sha256: string): StoredPackage | undefined {
    const r = this.db.prepare('SELECT * FROM packages WHERE sha256 = ?').get(sha256) as
      PackageRow | undefined;
    return r && toPackage(this.root, r);
  }

  /** Insert unless these bytes are already stored; returns whether a row was added. */
  insertPackage(p: StoredPackage): boolean {
    const res = this.db
      .prepare(
        `INSERT OR IGNORE INTO packages (sha256, study_id, site_id, bytes, rows, metadata, path, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        p.sha256,
        p.studyId,
        p.siteId,
        p.bytes,
        p.rows,
        JSON.stringify(p.metadata),
        this.rel(p.path),
        p.receivedAt,
      );
    return res.changes === 1;
  }

  /** Total DP ε of the packages a site has had accepted for a study (basic composition: ε adds). */
  epsilonAccepted(studyId: string, siteId: string): number {
    const r = this.db
      .prepare(
        `SELECT coalesce(sum(CAST(json_extract(metadata, '$.dp_epsilon') AS REAL)), 0) AS eps
           FROM packages WHERE study_id = ? AND site_id = ?`,
      )
      .get(studyId, siteId) as { eps: number };
    return r.eps;
  }

  listPackages(studyId: string, siteId?: string): StoredPackage[] {
    const rows = (
      siteId === undefined
        ? this.db
            .prepare('SELECT * FROM packages WHERE study_id = ? ORDER BY received_at, sha256')
            .all(studyId)
        : this.db
            .prepare(
              'SELECT * FROM packages WHERE study_id = ? AND site_id = ? ORDER BY received_at, sha256',
            )
            .all(studyId, siteId)
    ) as PackageRow[];
    return rows.map((r) => toPackage(this.root, r));
  }

  // ---- rounds --------------------------------------------------------------------------

  insertRound(id: string, studyId: string): void {
    const now = this.now();
    this.db
      .prepare(
        "INSERT INTO rounds (id, study_id, state, created_at, updated_at) VALUES (?, ?, 'collecting', ?, ?)",
      )
      .run(id, studyId, now, now);
  }

  private roundStatus(r: RoundRow): RoundStatus {
    const packages =
      r.state === 'collecting'
        ? (
            this.db
              .prepare('SELECT COUNT(*) AS n FROM packages WHERE study_id = ?')
              .get(r.study_id) as { n: number }
          ).n
        : (
            this.db
              .prepare('SELECT COUNT(*) AS n FROM round_packages WHERE round_id = ?')
              .get(r.id) as { n: number }
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

  /**
   * How many of a round's packages came from `siteId`: what a site is shown instead of the
   * study-wide count (which would tell it how much the other sites uploaded).
   */
  sitePackagesInRound(round: RoundStatus, siteId: string): number {
    const row =
      round.state === 'collecting'
        ? this.db
            .prepare('SELECT COUNT(*) AS n FROM packages WHERE study_id = ? AND site_id = ?')
            .get(round.studyId, siteId)
        : this.db
            .prepare(
              `SELECT COUNT(*) AS n FROM round_packages rp JOIN packages p ON p.sha256 = rp.sha256
               WHERE rp.round_id = ? AND p.site_id = ?`,
            )
            .get(round.id, siteId);
    return (row as { n: number }).n;
  }

  getRound(id: string): RoundStatus | undefined {
    const r = this.db.prepare('SELECT * FROM rounds WHERE id = ?').get(id) as RoundRow | undefined;
    return r && this.roundStatus(r);
  }

  latestRound(studyId: string): RoundStatus | undefined {
    const r = this.db
      .prepare(
        'SELECT * FROM rounds WHERE study_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
      )
      .get(studyId) as RoundRow | undefined;
    return r && this.roundStatus(r);
  }

  /** The study's round that is not yet published or failed, if any (at most one at a time). */
  openRound(studyId: string): RoundStatus | undefined {
    const r = this.db
      .prepare(
        `SELECT * FROM rounds WHERE study_id = ? AND state NOT IN (${FINAL_STATES.map(() => '?').join(',')})
         ORDER BY created_at DESC LIMIT 1`,
      )
      .get(studyId, ...FINAL_STATES) as RoundRow | undefined;
    return r && this.roundStatus(r);
  }

  /** Rounds a restarted server must carry on with: started (run requested) and not final. */
  resumableRounds(): RoundStatus[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM rounds WHERE run_requested_at IS NOT NULL
         AND state NOT IN (${FINAL_STATES.map(() => '?').join(',')}) ORDER BY created_at`,
      )
      .all(...FINAL_STATES) as RoundRow[];
    return rows.map((r) => this.roundStatus(r));
  }

  requestRoundRun(id: string): void {
    const now = this.now();
    this.db
      .prepare(
        'UPDATE rounds SET run_requested_at = COALESCE(run_requested_at, ?), updated_at = ? WHERE id = ?',
      )
      .run(now, now, id);
  }

  /** Move a round to `to` only from `from` (compare-and-set, so two runners cannot both advance it). */
  transitionRound(
    id: string,
    from: RoundState,
    to: RoundState,
    extra: { error?: string; modelVersion?: number } = {},
  ): boolean {
    const now = this.now();
    const final = FINAL_STATES.includes(to);
    const res = this.db
      .prepare(
        `UPDATE rounds SET state = ?, updated_at = ?, error = COALESCE(?, error),
         model_version = COALESCE(?, model_version), finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE id = ? AND state = ?`,
      )
      .run(to, now, extra.error ?? null, extra.modelVersion ?? null, final ? 1 : 0, now, id, from);
    return res.changes === 1;
  }

  setRoundProgress(id: string, progress: RoundProgress | null): void {
    this.db
      .prepare('UPDATE rounds SET progress = ?, updated_at = ? WHERE id = ?')
      .run(progress === null ? null : JSON.stringify(progress), this.now(), id);
  }

  /** Fix the round's training set: every package of the study received so far (idempotent). */
  snapshotRoundPackages(roundId: string, studyId: string): number {
    return this.db
      .transaction(() => {
        const existing = (
          this.db
            .prepare('SELECT COUNT(*) AS n FROM round_packages WHERE round_id = ?')
            .get(roundId) as { n: number }
        ).n;
        if (existing > 0) return existing;
        return this.db
          .prepare(
            'INSERT INTO round_packages (round_id, sha256) SELECT ?, sha256 FROM packages WHERE study_id = ?',
          )
          .run(roundId, studyId).changes;
      })
      .immediate();
  }

  roundPackages(roundId: string): StoredPackage[] {
    const rows = this.db
      .prepare(
        `SELECT p.* FROM packages p JOIN round_packages rp ON rp.sha256 = p.sha256
         WHERE rp.round_id = ? ORDER BY p.received_at, p.sha256`,
      )
      .all(roundId) as PackageRow[];
    return rows.map((r) => toPackage(this.root, r));
  }

  // ---- stage checkpoints ---------------------------------------------------------------

  getStage(roundId: string, stage: string): StageRecord | undefined {
    const r = this.db
      .prepare('SELECT * FROM round_stages WHERE round_id = ? AND stage = ?')
      .get(roundId, stage) as
      | {
          round_id: string;
          stage: string;
          status: StageRecord['status'];
          checkpoint: string | null;
          output: string | null;
          attempts: number;
          started_at: string;
          finished_at: string | null;
        }
      | undefined;
    if (!r) return undefined;
    return {
      roundId: r.round_id,
      stage: r.stage,
      status: r.status,
      checkpoint: r.checkpoint === null ? null : (JSON.parse(r.checkpoint) as unknown),
      output: r.output === null ? null : (JSON.parse(r.output) as unknown),
      attempts: r.attempts,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    };
  }

  startStage(roundId: string, stage: string): void {
    this.db
      .prepare(
        `INSERT INTO round_stages (round_id, stage, status, attempts, started_at) VALUES (?, ?, 'running', 1, ?)
         ON CONFLICT (round_id, stage) DO UPDATE SET status = 'running', attempts = attempts + 1, finished_at = NULL`,
      )
      .run(roundId, stage, this.now());
  }

  setStageCheckpoint(roundId: string, stage: string, checkpoint: unknown): void {
    this.db
      .prepare('UPDATE round_stages SET checkpoint = ? WHERE round_id = ? AND stage = ?')
      .run(JSON.stringify(checkpoint), roundId, stage);
  }

  finishStage(roundId: string, stage: string, status: 'done' | 'failed', output: unknown): void {
    this.db
      .prepare(
        'UPDATE round_stages SET status = ?, output = ?, finished_at = ? WHERE round_id = ? AND stage = ?',
      )
      .run(status, JSON.stringify(output ?? null), this.now(), roundId, stage);
  }

  // ---- models --------------------------------------------------------------------------

  latestModelVersion(studyId: string): number {
    const r = this.db
      .prepare('SELECT MAX(version) AS v FROM models WHERE study_id = ?')
      .get(studyId) as {
      v: number | null;
    };
    return r.v ?? 0;
  }

  insertModel(m: StoredModel): void {
    this.db
      .prepare(
        'INSERT INTO models (study_id, version, round_id, dir, manifest_sha256, published_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(m.studyId, m.version, m.roundId, this.rel(m.dir), m.manifestSha256, m.publishedAt);
  }

  listModels(studyId: string): StoredModel[] {
    return (
      this.db
        .prepare('SELECT * FROM models WHERE study_id = ? ORDER BY version')
        .all(studyId) as ModelRow[]
    ).map((r) => toModel(this.root, r));
  }

  getModel(studyId: string, version: number): StoredModel | undefined {
    const r = this.db
      .prepare('SELECT * FROM models WHERE study_id = ? AND version = ?')
      .get(studyId, version) as ModelRow | undefined;
    return r && toModel(this.root, r);
  }

  /** A site's opt-in aggregate metrics for a model version; a new report replaces its last one. */
  putModelEvaluation(studyId: string, version: number, siteId: string, metrics: unknown): { receivedAt: string } {
    const receivedAt = this.now();
    this.db
      .prepare(
        `INSERT INTO model_evaluations (study_id, version, site_id, metrics, received_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (study_id, version, site_id) DO UPDATE SET metrics = excluded.metrics, received_at = excluded.received_at`,
      )
      .run(studyId, version, siteId, JSON.stringify(metrics), receivedAt);
    return { receivedAt };
  }

  listModelEvaluations(studyId: string, siteId?: string): { studyId: string; version: number; siteId: string; metrics: unknown; receivedAt: string }[] {
    const rows = this.db
      .prepare(
        `SELECT study_id, version, site_id, metrics, received_at FROM model_evaluations WHERE study_id = ? ${siteId ? 'AND site_id = ?' : ''} ORDER BY version, site_id`,
      )
      .all(...(siteId ? [studyId, siteId] : [studyId])) as { study_id: string; version: number; site_id: string; metrics: string; received_at: string }[];
    return rows.map((r) => ({ studyId: r.study_id, version: r.version, siteId: r.site_id, metrics: JSON.parse(r.metrics) as unknown, receivedAt: r.received_at }));
  }
}
