// Tests that look at (or tamper with) the server store's rows directly do it the way an operator
// would with the sqlite3 shell or psql: through their own connection, never through the store's
// internals. Each call opens, runs and closes one connection (SQLite WAL: it sees every commit).
// SQL is written with `?` placeholders for both engines.
import Database from 'better-sqlite3';
import pg from 'pg';
import { toPostgresSql } from '../../src/server/store/sql/postgres-db';

type Params = unknown[];

export type StoreSql = {
  all<T = Record<string, unknown>>(sql: string, ...params: Params): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, ...params: Params): Promise<T | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(sql: string, ...params: Params): Promise<number>;
  /** SQLite only: `PRAGMA <p>` as a single value (`user_version`, `user_version = 9`). */
  pragma(p: string): Promise<unknown>;
};

type StoreLike = { readonly engine: 'sqlite' | 'postgres'; readonly location: string };

function sqliteSql(file: string): StoreSql {
  const use = async <T>(fn: (db: Database.Database) => T): Promise<T> => {
    const db = new Database(file);
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

function postgresSql(url: string): StoreSql {
  const use = async (sql: string, params: Params) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await client.query(toPostgresSql(sql), params);
    } finally {
      await client.end();
    }
  };
  return {
    all: async <T>(sql: string, ...params: Params) => (await use(sql, params)).rows as T[],
    get: async <T>(sql: string, ...params: Params) =>
      (await use(sql, params)).rows[0] as T | undefined,
    run: async (sql, ...params) => (await use(sql, params)).rowCount ?? 0,
    pragma: () => Promise.reject(new Error('PRAGMA is SQLite only')),
  };
}

export function storeSql(store: StoreLike): StoreSql {
  return store.engine === 'postgres' ? postgresSql(store.location) : sqliteSql(store.location);
}
