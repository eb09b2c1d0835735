// Tests that look at (or tamper with) the server store's rows directly do it the way an operator
// would with the sqlite3 shell: through their own connection to server.db, never through the
// store's internals. Each call opens, runs and closes one connection (WAL: it sees every commit).
import Database from 'better-sqlite3';

type Params = unknown[];

export type StoreSql = {
  all<T = Record<string, unknown>>(sql: string, ...params: Params): T[];
  get<T = Record<string, unknown>>(sql: string, ...params: Params): T | undefined;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, ...params: Params): number;
  /** `PRAGMA <p>` as a single value (`user_version`, `journal_mode`, `user_version = 9`). */
  pragma(p: string): unknown;
};

export function storeSql(store: { readonly file: string }): StoreSql {
  const use = <T>(fn: (db: Database.Database) => T): T => {
    const db = new Database(store.file);
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      return fn(db);
    } finally {
      db.close();
    }
  };
  return {
    all: <T>(sql: string, ...params: Params) => use((db) => db.prepare(sql).all(...params) as T[]),
    get: <T>(sql: string, ...params: Params) =>
      use((db) => db.prepare(sql).get(...params) as T | undefined),
    run: (sql, ...params) => use((db) => db.prepare(sql).run(...params).changes),
    pragma: (p) => use((db) => db.pragma(p, { simple: true })),
  };
}
