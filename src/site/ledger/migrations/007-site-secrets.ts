import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Secrets this site keeps to itself. `patient-key`: the HMAC key under which patient ids are
 * hashed before anything about them is stored (released rows, ε spent per unit): a plain
 * sha256 of a short medical record number is reversed by trying every number.
 */
export const migration007SiteSecrets: Migration = {
  version: 7,
  name: 'site-secrets',
  sql: `
CREATE TABLE site_secrets (
  name TEXT PRIMARY KEY,
  secret BLOB NOT NULL CHECK (length(secret) >= 32),
  created_at TEXT NOT NULL
);
CREATE TRIGGER site_secrets_no_update BEFORE UPDATE ON site_secrets
  BEGIN SELECT RAISE(ABORT, 'site secrets are never changed: keys hashed under them would no longer match'); END;
`,
};
