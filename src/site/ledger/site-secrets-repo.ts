import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Clock } from './ledger-json';

/** Per-site random secrets, made on first use and never changed (migration 007). */
export class SiteSecretsRepo {
  private readonly getStmt;
  private readonly insertStmt;

  constructor(
    db: Database.Database,
    private readonly now: Clock,
  ) {
    this.getStmt = db.prepare<[string], { secret: Buffer }>('SELECT secret FROM site_secrets WHERE name = ?');
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO site_secrets (name, secret, created_at) VALUES (?, ?, ?)');
  }

  /** The secret called `name`: 32 random bytes, created the first time it is asked for. */
  get(name: string): Buffer {
    this.insertStmt.run(name, randomBytes(32), this.now().toISOString());
    return this.getStmt.get(name)!.secret;
  }
}
