/**
 * The server store's one database interface, implemented by SQLite (sqlite-db.ts, the embedded
 * default) and PostgreSQL (postgres-db.ts, for several API replicas). Repositories write their SQL
 * once, with `?` placeholders, in the subset both engines accept; the few places the engines
 * differ are the `dialect` fragments below.
 */
export type SqlParams = readonly unknown[];

export type SqlDialect = {
  engine: 'sqlite' | 'postgres';
  /** A JSON text column's top-level key as a float (NULL when absent). */
  jsonNumber(column: string, key: string): string;
  /** Appended to a SELECT inside a transaction to lock the rows it read (PostgreSQL only). */
  forUpdate: string;
  /** Insertion order of `rounds` rows, as the tie-break after `created_at`. */
  roundsInsertOrder: string;
};

/** Statements on a connection: a pooled one, or the one a transaction holds. */
export interface SqlRunner {
  readonly dialect: SqlDialect;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /**
   * Run `fn` atomically: if it throws, nothing it wrote is kept. Inside a transaction this just
   * runs `fn` in it. Writers are serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: row locks
   * taken with `dialect.forUpdate`).
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export interface SqlDb extends SqlRunner {
  /** Where it is, for messages: the server.db path, or the URL without its password. */
  readonly location: string;
  close(): Promise<void>;
}
