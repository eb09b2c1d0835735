import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * A token re-issued for a known site (`fgl server site reissue`): redeeming it gives that site a
 * new API key and revokes its old ones.
 * Released migrations are never edited; the SQL is accepted by SQLite and PostgreSQL alike.
 */
export const migration003SiteReissue: Migration = {
  version: 3,
  name: 'site-reissue',
  sql: `
ALTER TABLE enrollment_tokens ADD COLUMN site_id TEXT REFERENCES sites(id);
`,
};
