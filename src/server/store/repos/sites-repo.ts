import type { SiteSummary, StudySiteRecord } from '../../../shared/server-api';
import type { RepoContext } from './repo-context';

/**
 * Sites, their API keys (stored only as sha256) and their study memberships (tables `sites`,
 * `api_keys`, `site_studies`). Sites are created by redeeming an enrollment token
 * (enrollment-repo.ts).
 */
export class SitesRepo {
  constructor(private readonly c: RepoContext) {}

  async get(siteId: string): Promise<SiteSummary | undefined> {
    const r = await this.c.db.get<{
      id: string;
      name: string;
      created_at: string;
      revoked_at: string | null;
    }>('SELECT id, name, created_at, revoked_at FROM sites WHERE id = ?', [siteId]);
    return r && { id: r.id, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at };
  }

  /** The site an API key (by its sha256) belongs to, if the key and the site are both active. */
  async forKey(keySha256: string): Promise<string | undefined> {
    const row = await this.c.db.get<{ site_id: string }>(
      `SELECT k.site_id FROM api_keys k JOIN sites s ON s.id = k.site_id
       WHERE k.key_sha256 = ? AND k.revoked_at IS NULL AND s.revoked_at IS NULL`,
      [keySha256],
    );
    return row?.site_id;
  }

  async isEnrolled(siteId: string, studyId: string): Promise<boolean> {
    const row = await this.c.db.get(
      'SELECT 1 AS one FROM site_studies WHERE site_id = ? AND study_id = ?',
      [siteId, studyId],
    );
    return row !== undefined;
  }

  /** The sites enrolled in a study, oldest first. */
  async ofStudy(studyId: string): Promise<SiteSummary[]> {
    const rows = await this.c.db.all<{
      id: string;
      name: string;
      created_at: string;
      revoked_at: string | null;
    }>(
      `SELECT s.id, s.name, s.created_at, s.revoked_at FROM sites s
       JOIN site_studies ss ON ss.site_id = s.id WHERE ss.study_id = ? ORDER BY s.created_at, s.id`,
      [studyId],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  /** The sites of a study with their state, active keys and package counts (coordinator's view). */
  async records(studyId: string): Promise<StudySiteRecord[]> {
    const rows = await this.c.db.all<{
      id: string;
      name: string;
      revoked_at: string | null;
      enrolled_at: string;
      keys: number;
      packages: number;
      last_package: string | null;
    }>(
      `SELECT s.id, s.name, s.revoked_at, ss.enrolled_at,
         (SELECT CAST(COUNT(*) AS INTEGER) FROM api_keys k WHERE k.site_id = s.id AND k.revoked_at IS NULL) AS keys,
         (SELECT CAST(COUNT(*) AS INTEGER) FROM packages p WHERE p.site_id = s.id AND p.study_id = ss.study_id) AS packages,
         (SELECT MAX(received_at) FROM packages p WHERE p.site_id = s.id AND p.study_id = ss.study_id) AS last_package
       FROM sites s JOIN site_studies ss ON ss.site_id = s.id
       WHERE ss.study_id = ? ORDER BY ss.enrolled_at, s.id`,
      [studyId],
    );
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
  revoke(siteId: string): Promise<{ revokedAt: string; keysRevoked: number } | undefined> {
    return this.c.db.transaction(async (tx) => {
      const site = await tx.get<{ revoked_at: string | null }>(
        `SELECT revoked_at FROM sites WHERE id = ?${tx.dialect.forUpdate}`,
        [siteId],
      );
      if (!site) return undefined;
      const now = this.c.now();
      const revokedAt = site.revoked_at ?? now;
      await tx.run('UPDATE sites SET revoked_at = ? WHERE id = ?', [revokedAt, siteId]);
      const keysRevoked = await tx.run(
        'UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL',
        [now, siteId],
      );
      return { revokedAt, keysRevoked };
    });
  }
}
