import type Database from 'better-sqlite3';
import type { Clock } from './ledger-json';

/** This site's enrollment in one study on one server. */
export type EnrollmentRow = {
  id: number;
  serverUrl: string;
  studyId: string;
  siteId: string;
  /** Opaque: encrypted by the caller (e.g. Electron safeStorage) before it reaches the ledger. */
  apiKey: Uint8Array;
  /** The server's Ed25519 public key, pinned at enrollment; models are verified against it. */
  serverPublicKey: string;
  serverKeyFingerprint: string;
  /** The server's TLS CA (PEM) pinned at enrollment; null = loopback http or a system-trusted certificate. */
  tlsCaPem: string | null;
  /** sha256 of the pinned CA certificate's DER, lowercase hex; null when nothing is pinned. */
  tlsCaFingerprint: string | null;
  createdAt: string;
};

export type EnrollmentInput = Omit<EnrollmentRow, 'id' | 'createdAt' | 'tlsCaPem' | 'tlsCaFingerprint'> &
  Partial<Pick<EnrollmentRow, 'tlsCaPem' | 'tlsCaFingerprint'>>;

type Raw = {
  id: number;
  server_url: string;
  study_id: string;
  site_id: string;
  api_key: Buffer;
  server_public_key: string;
  server_key_fingerprint: string;
  tls_ca_pem: string | null;
  tls_ca_fingerprint: string | null;
  created_at: string;
};

const toRow = (r: Raw): EnrollmentRow => ({
  id: r.id,
  serverUrl: r.server_url,
  studyId: r.study_id,
  siteId: r.site_id,
  apiKey: new Uint8Array(r.api_key),
  serverPublicKey: r.server_public_key,
  serverKeyFingerprint: r.server_key_fingerprint,
  tlsCaPem: r.tls_ca_pem,
  tlsCaFingerprint: r.tls_ca_fingerprint,
  createdAt: r.created_at,
});

export class EnrollmentsRepo {
  private readonly upsertStmt;
  private readonly getStmt;
  private readonly byIdStmt;
  private readonly listStmt;
  private readonly removeStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.upsertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO enrollments (server_url, study_id, site_id, api_key, server_public_key, server_key_fingerprint,
         tls_ca_pem, tls_ca_fingerprint, created_at)
       VALUES (@server_url, @study_id, @site_id, @api_key, @server_public_key, @server_key_fingerprint,
         @tls_ca_pem, @tls_ca_fingerprint, @created_at)
       ON CONFLICT (server_url, study_id) DO UPDATE SET site_id = excluded.site_id, api_key = excluded.api_key,
         server_public_key = excluded.server_public_key, server_key_fingerprint = excluded.server_key_fingerprint,
         tls_ca_pem = excluded.tls_ca_pem, tls_ca_fingerprint = excluded.tls_ca_fingerprint,
         created_at = excluded.created_at
       RETURNING *`,
    );
    this.getStmt = db.prepare<[string, string], Raw>(
      'SELECT * FROM enrollments WHERE server_url = ? AND study_id = ?',
    );
    this.byIdStmt = db.prepare<[number], Raw>('SELECT * FROM enrollments WHERE id = ?');
    this.listStmt = db.prepare<[], Raw>('SELECT * FROM enrollments ORDER BY id');
    this.removeStmt = db.prepare<[number]>('DELETE FROM enrollments WHERE id = ?');
  }

  /**
   * Insert or replace the enrollment for (server, study). Replacing changes the pinned key: the
   * caller must only do so on an explicit re-enrollment, never because a server presented a new key.
   */
  upsert(e: EnrollmentInput): EnrollmentRow {
    return toRow(
      this.upsertStmt.get({
        server_url: e.serverUrl,
        study_id: e.studyId,
        site_id: e.siteId,
        api_key: Buffer.from(e.apiKey),
        server_public_key: e.serverPublicKey,
        server_key_fingerprint: e.serverKeyFingerprint,
        tls_ca_pem: e.tlsCaPem ?? null,
        tls_ca_fingerprint: e.tlsCaFingerprint ?? null,
        created_at: this.now().toISOString(),
      })!,
    );
  }

  get(serverUrl: string, studyId: string): EnrollmentRow | undefined {
    const r = this.getStmt.get(serverUrl, studyId);
    return r && toRow(r);
  }

  getById(id: number): EnrollmentRow | undefined {
    const r = this.byIdStmt.get(id);
    return r && toRow(r);
  }

  list(): EnrollmentRow[] {
    return this.listStmt.all().map(toRow);
  }

  remove(id: number): boolean {
    return this.removeStmt.run(id).changes > 0;
  }
}
