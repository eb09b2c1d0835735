import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * The server's TLS CA pinned at enrollment (PEM + sha256 of its DER). NULL for loopback http
 * and for servers whose certificate the system already trusts; otherwise every request to the
 * server trusts only this CA (src/site/client/tls-pinning.ts).
 */
export const migration003TlsPin: Migration = {
  version: 3,
  name: 'tls-pin',
  sql: `
ALTER TABLE enrollments ADD COLUMN tls_ca_pem TEXT;
ALTER TABLE enrollments ADD COLUMN tls_ca_fingerprint TEXT;
`,
};
