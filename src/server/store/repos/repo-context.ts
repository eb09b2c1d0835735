import type Database from 'better-sqlite3';
import path from 'node:path';

/**
 * What every server-store repository is built with: the connection, the injected clock (as the
 * ISO-8601 string rows store), and the data dir that file paths in rows are relative to (so the
 * whole dir can be moved).
 */
export class RepoContext {
  constructor(
    readonly db: Database.Database,
    readonly now: () => string,
    private readonly root: string,
  ) {}

  /** A file path as stored in a row: relative to the data dir, with forward slashes. */
  rel(p: string): string {
    return path.relative(this.root, path.resolve(p)).split(path.sep).join('/');
  }

  /** A stored relative path back to an absolute one. */
  abs(stored: string): string {
    return path.resolve(this.root, stored);
  }
}
