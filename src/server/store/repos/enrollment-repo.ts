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

  async insertToken(t: {
    tokenSha256: string;
    studyId: string;
    siteName: string;
    expiresAt: string;
    /** A token re-issued for this known site (its redemption replaces the site's keys). */
    siteId?: string;
  }): Promise<void> {
    await this.c.db.run(
      'INSERT INTO enrollment_tokens (token_sha256, study_id, site_name, created_at, expires_at, site_id) VALUES (?, ?, ?, ?, ?, ?)',
      [t.tokenSha256, t.studyId, t.siteName, this.c.now(), t.expiresAt, t.siteId ?? null],
    );
  }

  /**
   * Consume a one-time token and enroll, atomically: two concurrent requests with the same
   * token cannot both succeed because the check and the `used_at` update share a transaction
   * that holds the token row (SQLite serialises writers; PostgreSQL locks it FOR UPDATE).
   * `existingSiteId` joins an already-enrolled site to the study instead of creating a new site.
   */
  redeem(a: {
    tokenSha256: string;
    newSiteId: string;
    apiKeySha256: string;
    existingSiteId?: string;
  }): Promise<EnrollOutcome> {
    return this.c.db.transaction(async (tx): Promise<EnrollOutcome> => {
      const now = this.c.now();
      const tok = await tx.get<TokenRow>(
        `SELECT study_id, site_name, expires_at, used_at, site_id FROM enrollment_tokens WHERE token_sha256 = ?${tx.dialect.forUpdate}`,
        [a.tokenSha256],
      );
      if (!tok) return { ok: false, reason: 'invalid' };
      if (tok.used_at !== null) return { ok: false, reason: 'used' };
      if (tok.expires_at <= now) return { ok: false, reason: 'expired', expiresAt: tok.expires_at };

      const insertKey = (siteId: string) =>
        tx.run('INSERT INTO api_keys (key_sha256, site_id, created_at) VALUES (?, ?, ?)', [
          a.apiKeySha256,
          siteId,
          now,
        ]);
      let siteId: string;
      let siteName: string;
      let newKey: boolean;
      if (tok.site_id !== null) {
        // Re-issued for a known site: it gets a new key; the old ones (lost, stolen) stop
        // working, and a revoked site is active again (the coordinator chose to re-issue).
        siteId = tok.site_id;
        siteName = tok.site_name;
        newKey = true;
        await tx.run(
          'UPDATE api_keys SET revoked_at = ? WHERE site_id = ? AND revoked_at IS NULL',
          [now, siteId],
        );
        await tx.run('UPDATE sites SET revoked_at = NULL WHERE id = ?', [siteId]);
        await insertKey(siteId);
      } else if (a.existingSiteId !== undefined) {
        const site = await tx.get<{ name: string; revoked_at: string | null }>(
          'SELECT name, revoked_at FROM sites WHERE id = ?',
          [a.existingSiteId],
        );
        if (!site || site.revoked_at !== null) return { ok: false, reason: 'site_revoked' };
        siteId = a.existingSiteId;
        siteName = site.name;
        newKey = false;
      } else {
        siteId = a.newSiteId;
        siteName = tok.site_name;
        newKey = true;
        await tx.run('INSERT INTO sites (id, name, created_at) VALUES (?, ?, ?)', [
          siteId,
          siteName,
          now,
        ]);
        await insertKey(siteId);
      }
      await tx.run(
        'INSERT INTO site_studies (site_id, study_id, enrolled_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
        [siteId, tok.study_id, now],
      );
      const used = await tx.run(
        'UPDATE enrollment_tokens SET used_at = ?, used_by_site = ? WHERE token_sha256 = ? AND used_at IS NULL',
        [now, siteId, a.tokenSha256],
      );
      if (used !== 1) throw new Error('enrollment token was consumed concurrently');
      const studies = (
        await tx.all<{ study_id: string }>(
          'SELECT study_id FROM site_studies WHERE site_id = ? ORDER BY study_id',
          [siteId],
        )
      ).map((r) => r.study_id);
      return { ok: true, siteId, siteName, studyId: tok.study_id, studies, newKey };
    });
  }
}
