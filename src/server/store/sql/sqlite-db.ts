import type Database from 'better-sqlite3';
import type { SqlDb, SqlDialect, SqlParams, SqlRunner } from './sql-db';

const SQLITE: SqlDialect = {
  engine: 'sqlite',
  jsonNumber: (column, key) => `CAST(json_extract(${column}, '$.${key}') AS REAL)`,
  forUpdate: '',
  roundsInsertOrder: 'rowid',
};

/**
 * SqlDb on one better-sqlite3 connection. Statements are synchronous underneath; a transaction
 * holds the connection across its awaits, so statements from elsewhere in the process wait until
 * it ends instead of running inside it, and transactions run one at a time (BEGIN IMMEDIATE also
 * takes the file's write lock against other processes, such as a CLI admin command).
 */
export class SqliteDb implements SqlDb {
  readonly dialect = SQLITE;
  private tail: Promise<unknown> = Promise.resolve();
  private inTransaction = false;
  private readonly tx: SqlRunner;

  constructor(
    readonly db: Database.Database,
    readonly location: string,
  ) {
    // Inside the transaction: straight to the connection it holds.
    this.tx = {
      dialect: SQLITE,
      all: async <T>(sql: string, params: SqlParams = []) => db.prepare(sql).all(...params) as T[],
      get: async <T>(sql: string, params: SqlParams = []) =>
        db.prepare(sql).get(...params) as T | undefined,
      run: async (sql, params = []) => db.prepare(sql).run(...params).changes,
      transaction: (fn) => fn(this.tx),
    };
  }

  /** Outside a transaction: wait until none is open, then run. */
  private async outside<T>(fn: (d: Database.Database) => T): Promise<T> {
    while (this.inTransaction) await this.tail.catch(() => undefined);
    return fn(this.db);
  }

  all<T>(sql: string, params: SqlParams = []): Promise<T[]> {
    return this.outside((d) => d.prepare(sql).all(...params) as T[]);
  }

  get<T>(sql: string, params: SqlParams = []): Promise<T | undefined> {
    return this.outside((d) => d.prepare(sql).get(...params) as T | undefined);
  }

  run(sql: string, params: SqlParams = []): Promise<number> {
    return this.outside((d) => d.prepare(sql).run(...params).changes);
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const next = this.tail
      .catch(() => undefined)
      .then(async () => {
        this.inTransaction = true;
        try {
          this.db.exec('BEGIN IMMEDIATE');
          try {
            const result = await fn(this.tx);
            this.db.exec('COMMIT');
            return result;
          } catch (e) {
            if (this.db.inTransaction) this.db.exec('ROLLBACK');
            throw e;
          }
        } finally {
          this.inTransaction = false;
        }
      });
    this.tail = next;
    return next;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
