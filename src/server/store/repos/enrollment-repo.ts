import type { RepoContext } from './repo-context';

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

type TokenRow = {
  study_id: string;
  site_name: string;
  expires_at: string;
  used_at: string | null;
  site_id: string | null;
};

/**
 * One-time enrollment tokens (table `enrollment_tokens`, stored only as sha256) and their
 * redemption, which creates or re-keys a site and joins it to the token's study.
 */
export class EnrollmentRepo {
  constructor(private readonly c: RepoContext) {}

  insertToken(t: {
    tokenSha256: string;
    studyId: string;
    siteName: string;
    expiresAt: string;
    /** A token re-issued for this known site (its redemption replaces the site's keys). */
    siteId?: string;
  }): void {
    this.c.db
      .prepare(
        'INSERT INTO enrollment_tokens (token_sha256, study_id, site_name, created_at, expires_at, site_id) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(t.tokenSha256, t.studyId, t.siteName, this.c.now(), t.expiresAt, t.siteId ?? null);
  }

  /**
   * Consume a one-time token and enroll, atomically: two concurrent requests with the same
   * token cannot both succeed because the check and the `used_at` update share a transaction
   * (SQLite serialises writers). `existingSiteId` joins an already-enrolled site to the study
   * instead of creating a new site.
   */
  redeem(a: {
    tokenSha256: string;
    newSiteId: string;
    apiKeySha256: string;
    existingSiteId?: string;
  }): EnrollOutcome {
    const db = this.c.db;
    return db
      .transaction((): EnrollOutcome => {
        const now = this.c.now();
        const tok = db
          .prepare(
            'SELECT study_id, site_name, expires_at, used_at, site_id FROM enrollment_tokens WHERE token_sha256 = ?',
          )
          .get(a.tokenSha256) as TokenRow | undefined;
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
          db.prepare('UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL').run(
            now,
            siteId,
          );
          db.prepare('UPDATE sites SET revoked_at = NULL WHERE id = ?').run(siteId);
          db.prepare('INSERT INTO api_keys (key_sha256, site_id, created_at) VALUES (?, ?, ?)').run(
            a.apiKeySha256,
            siteId,
            now,
          );
        } else if (a.existingSiteId !== undefined) {
          const site = db
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
          db.prepare('INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)').run(
            siteId,
            siteName,
            now,
          );
          db.prepare('INSERT INTO api_keys (key_sha256, site_id, created_at) VALUES (?, ?, ?)').run(
            a.apiKeySha256,
            siteId,
            now,
          );
        }
        db.prepare(
          'INSERT OR IGNORE INTO site_studies (site_id, study_id, enrolled_at) VALUES (?, ?, ?)',
        ).run(siteId, tok.study_id, now);
        const used = db
          .prepare(
            'UPDATE enrollment_tokens SET used_at = ?, used_by_site = ? WHERE token_sha256 = ? AND used_at IS NULL',
          )
          .run(now, siteId, a.tokenSha256);
        if (used.changes !== 1) throw new Error('enrollment token was consumed concurrently');
        const studies = (
          db
            .prepare('SELECT study_id FROM site_studies WHERE site_id = ? ORDER BY study_id')
            .all(siteId) as { study_id: string }[]
        ).map((r) => r.study_id);
        return { ok: true, siteId, siteName, studyId: tok.study_id, studies, newKey };
      })
      .immediate();
  }
}
