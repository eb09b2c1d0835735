import type Database from 'better-sqlite3';
import type { Clock } from './ledger-json';

/** Cached captions by (image content sha256, captioner digest); local only. */
export class CaptionsRepo {
  private readonly getStmt;
  private readonly putStmt;

  constructor(
    private readonly db: Database.Database,
    private readonly now: Clock,
  ) {
    this.getStmt = db.prepare<[string, string], { caption: string }>('SELECT caption FROM captions WHERE content_sha256 = ? AND model_sha256 = ?');
    this.putStmt = db.prepare<[string, string, string, string]>(
      `INSERT INTO captions (content_sha256, model_sha256, caption, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (content_sha256, model_sha256) DO UPDATE SET caption = excluded.caption`,
    );
  }

  getMany(contentSha256s: Iterable<string>, modelSha256: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const sha of contentSha256s) {
      const r = this.getStmt.get(sha, modelSha256);
      if (r) out.set(sha, r.caption);
    }
    return out;
  }

  putMany(modelSha256: string, entries: Iterable<{ contentSha256: string; caption: string }>): void {
    const at = this.now().toISOString();
    this.db.transaction(() => {
      for (const e of entries) this.putStmt.run(e.contentSha256, modelSha256, e.caption, at);
    })();
  }
}
