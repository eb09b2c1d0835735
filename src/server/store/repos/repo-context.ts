import path from 'node:path';
import type { SqlRunner } from '../sql/sql-db';

/**
 * What every server-store repository is built with: the database (or the transaction it runs
 * in), the injected clock (as the ISO-8601 string rows store), and the data dir that file paths
 * in rows are relative to (so the whole dir can be moved).
 */
export class RepoContext {
  constructor(
    readonly db: SqlRunner,
    readonly now: () => string,
    private readonly root: string,
  ) {}

  /** The same clock and data dir on another runner (a transaction's connection). */
  on(db: SqlRunner): RepoContext {
    return new RepoContext(db, this.now, this.root);
  }

  /** A file path as stored in a row: relative to the data dir, with forward slashes. */
  rel(p: string): string {
    return path.relative(this.root, path.resolve(p)).split(path.sep).join('/');
  }

  /** A stored relative path back to an absolute one. */
  abs(stored: string): string {
    return path.resolve(this.root, stored);
  }
}
