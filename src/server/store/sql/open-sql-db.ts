import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ownerOnlySqliteFiles } from '../../../core/fs/owner-only';
import { migratePostgres } from '../postgres-migrations';
import { migrateServerSqlite } from '../server-migrations';
import { PostgresDb, redactUrl } from './postgres-db';
import type { SqlDb } from './sql-db';
import { SqliteDb } from './sqlite-db';

/** The store could not be opened: what went wrong, and what to do (printed as `hint:` by the CLI). */
export class StoreOpenError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'StoreOpenError';
  }
}

/** True for a `postgres://` / `postgresql://` store location. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

function openSqlite(file: string): SqliteDb {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL is durable across application crashes; FULL adds power-cut durability of the last commit.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrateServerSqlite(db);
  } catch (e) {
    db.close();
    throw e;
  }
  // Keys' and tokens' hashes, packages' metadata: readable by the server's account only.
  ownerOnlySqliteFiles(file);
  return new SqliteDb(db, file);
}

async function openPostgres(url: string): Promise<PostgresDb> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
  // An idle client's network error must not crash the server; the next query reports it.
  pool.on('error', () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new StoreOpenError(
      `cannot connect to the PostgreSQL store ${redactUrl(url)}: ${(e as Error).message || (e as Error).name}`,
      'Check that PostgreSQL is running and reachable from here, and the user, password and database in ' +
        'the URL (the database must exist: createdb NAME).',
      { cause: e },
    );
  }
  try {
    await migratePostgres(client);
  } catch (e) {
    client.release();
    await pool.end().catch(() => undefined);
    throw e;
  }
  client.release();
  return new PostgresDb(pool, url);
}

/**
 * Open and migrate the store's database at `location` (a PostgreSQL URL or a SQLite file path);
 * `root` is the data dir that rows' file paths are relative to.
 */
export async function openSqlDb(
  location: string,
  dataDir?: string,
): Promise<{ db: SqlDb; root: string }> {
  if (isPostgresUrl(location)) {
    if (dataDir === undefined)
      throw new Error('a PostgreSQL store needs the data dir its files live in');
    return { db: await openPostgres(location), root: path.resolve(dataDir) };
  }
  const file = path.resolve(location);
  return { db: openSqlite(file), root: path.resolve(dataDir ?? path.dirname(file)) };
}
