import type Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';
import { type Clock, toJson } from './ledger-json';

export type UploadStatus = 'pending' | 'sent' | 'accepted' | 'rejected' | 'failed';

/** One row of the audit log: what left (or was about to leave), where, on whose approval. */
export type UploadRow = {
  id: number;
  packageSha256: string;
  bytes: number;
  serverUrl: string;
  studyId: string;
  approvers: string[];
  createdAt: string;
  status: UploadStatus;
  /** The server's answer (body or error text), as received. */
  response: string | null;
  updatedAt: string;
};

export type UploadInput = {
  packageSha256: string;
  bytes: number;
  serverUrl: string;
  studyId: string;
  approvers: readonly string[];
  status?: UploadStatus;
  response?: string | null;
};

type Raw = {
  id: number;
  package_sha256: string;
  bytes: number;
  server_url: string;
  study_id: string;
  approvers: string;
  created_at: string;
  status: UploadStatus;
  response: string | null;
  updated_at: string;
};

const toRow = (r: Raw): UploadRow => ({
  id: r.id,
  packageSha256: r.package_sha256,
  bytes: r.bytes,
  serverUrl: r.server_url,
  studyId: r.study_id,
  approvers: JSON.parse(r.approvers) as string[],
  createdAt: r.created_at,
  status: r.status,
  response: r.response,
  updatedAt: r.updated_at,
});

/** Escape LIKE wildcards so a search for "50%" means the text "50%". */
const likePattern = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * The upload audit log. The schema's triggers make it append-only: rows cannot be deleted and
 * only status/response can change after insert.
 */
export class UploadsRepo {
  private readonly insertStmt;
  private readonly outcomeStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly searchStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.insertStmt = db.prepare<[Omit<Raw, 'id'>], Raw>(
      `INSERT INTO uploads (package_sha256, bytes, server_url, study_id, approvers, created_at, status, response, updated_at)
       VALUES (@package_sha256, @bytes, @server_url, @study_id, @approvers, @created_at, @status, @response, @updated_at)
       RETURNING *`,
    );
    this.outcomeStmt = db.prepare<[UploadStatus, string | null, string, number], Raw>(
      'UPDATE uploads SET status = ?, response = ?, updated_at = ? WHERE id = ? RETURNING *',
    );
    this.getStmt = db.prepare<[number], Raw>('SELECT * FROM uploads WHERE id = ?');
    this.listStmt = db.prepare<[number, number], Raw>(
      'SELECT * FROM uploads ORDER BY id DESC LIMIT ? OFFSET ?',
    );
    this.searchStmt = db.prepare<{ q: string; limit: number; offset: number }, Raw>(
      `SELECT * FROM uploads
       WHERE package_sha256 LIKE @q ESCAPE '\\' OR server_url LIKE @q ESCAPE '\\' OR study_id LIKE @q ESCAPE '\\'
          OR approvers LIKE @q ESCAPE '\\' OR status LIKE @q ESCAPE '\\' OR created_at LIKE @q ESCAPE '\\'
       ORDER BY id DESC LIMIT @limit OFFSET @offset`,
    );
  }

  insert(u: UploadInput): UploadRow {
    if (u.approvers.length === 0 || u.approvers.some((a) => a.trim() === '')) {
      throw new LedgerError(
        'bad_value',
        'an upload needs at least one named approver',
        'Record who approved the release.',
      );
    }
    const at = this.now().toISOString();
    return toRow(
      this.insertStmt.get({
        package_sha256: u.packageSha256,
        bytes: u.bytes,
        server_url: u.serverUrl,
        study_id: u.studyId,
        approvers: toJson(u.approvers, 'approvers'),
        created_at: at,
        status: u.status ?? 'pending',
        response: u.response ?? null,
        updated_at: at,
      })!,
    );
  }

  /** Record what the server said. */
  setOutcome(id: number, status: UploadStatus, response: string | null): UploadRow {
    const r = this.outcomeStmt.get(status, response, this.now().toISOString(), id);
    if (!r)
      throw new LedgerError(
        'not_found',
        `upload ${id} is not in the audit log`,
        'List uploads to find its id.',
      );
    return toRow(r);
  }

  get(id: number): UploadRow | undefined {
    const r = this.getStmt.get(id);
    return r && toRow(r);
  }

  /** Newest first; `search` matches hash, server, study, approver, status or date (substring). */
  list(opts?: { search?: string; limit?: number; offset?: number }): UploadRow[] {
    const limit = opts?.limit ?? 100;
    const offset = opts?.offset ?? 0;
    const search = opts?.search?.trim();
    const rows = search
      ? this.searchStmt.all({ q: likePattern(search), limit, offset })
      : this.listStmt.all(limit, offset);
    return rows.map(toRow);
  }
}
