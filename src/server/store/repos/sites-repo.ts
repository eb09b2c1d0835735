import type { SiteSummary, StudySiteRecord } from '../../../shared/server-api';
import type { RepoContext } from './repo-context';

/**
 * Sites, their API keys (stored only as sha256) and their study memberships (tables `sites`,
 * `api_keys`, `site_studies`). Sites are created by redeeming an enrollment token
 * (enrollment-repo.ts).
 */
export class SitesRepo {
  constructor(private readonly c: RepoContext) {}

  get(siteId: string): SiteSummary | undefined {
    const r = this.c.db
      .prepare('SELECT id, name, created_at, revoked_at FROM sites WHERE id = ?')
      .get(siteId) as
      { id: string; name: string; created_at: string; revoked_at: string | null } | undefined;
    return r && { id: r.id, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at };
  }

  /** The site an API key (by its sha256) belongs to, if the key and the site are both active. */
  forKey(keySha256: string): string | undefined {
    const row = this.c.db
      .prepare(
        `SELECT k.site_id FROM api_keys k JOIN sites s ON s.id = k.site_id
         WHERE k.key_sha256 = ? AND k.revoked_at IS NULL AND s.revoked_at IS NULL`,
      )
      .get(keySha256) as { site_id: string } | undefined;
    return row?.site_id;
  }

  isEnrolled(siteId: string, studyId: string): boolean {
    return (
      this.c.db
        .prepare('SELECT 1 FROM site_studies WHERE site_id = ? AND study_id = ?')
        .get(siteId, studyId) !== undefined
    );
  }

  /** The sites enrolled in a study, oldest first. */
  ofStudy(studyId: string): SiteSummary[] {
    const rows = this.c.db
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

  /** The sites of a study with their state, active keys and package counts (coordinator's view). */
  records(studyId: string): StudySiteRecord[] {
    const rows = this.c.db
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

  /** Revoke a site and all its active keys (idempotent: the first revocation time is kept). */
  revoke(siteId: string): { revokedAt: string; keysRevoked: number } | undefined {
    const db = this.c.db;
    return db
      .transaction(() => {
        const site = db.prepare('SELECT revoked_at FROM sites WHERE id = ?').get(siteId) as
          { revoked_at: string | null } | undefined;
        if (!site) return undefined;
        const now = this.c.now();
        const revokedAt = site.revoked_at ?? now;
        db.prepare('UPDATE sites SET revoked_at = ? WHERE id = ?').run(revokedAt, siteId);
        const keys = db
          .prepare('UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL')
          .run(now, siteId);
        return { revokedAt, keysRevoked: keys.changes };
      })
      .immediate();
  }
}
