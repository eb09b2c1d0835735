import type pg from 'pg';
import { SERVER_MIGRATIONS as MIGRATIONS, schemaTooNewError } from './server-migrations';

/** An arbitrary constant: the advisory lock every replica takes while it migrates. */
const MIGRATION_LOCK = 0x46474c31; // "FGL1"

/**
 * The server store's numbered migrations (the same SERVER_MIGRATIONS SQLite runs, written in the SQL
 * both engines accept) applied to PostgreSQL. The version lives in `fgl_schema_version` (SQLite
 * keeps it in `PRAGMA user_version`). Each migration runs in its own transaction under an
 * advisory lock, so several API replicas starting at once migrate exactly once.
 * `fgl server start --store postgres://…` runs it on open (sql/open-sql-db.ts).
 */
export async function migratePostgres(client: pg.ClientBase): Promise<number> {
  // Concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog
  // (pg_type's unique index), so even the version table is created under the lock.
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS fgl_schema_version (version INTEGER NOT NULL)');
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
  for (;;) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const r = await client.query<{ version: number }>('SELECT version FROM fgl_schema_version');
      const current = r.rows[0]?.version ?? 0;
      if (current > MIGRATIONS.length)
        throw schemaTooNewError('the PostgreSQL store', current, MIGRATIONS.length, 'a backup');
      if (current === MIGRATIONS.length) {
        await client.query('COMMIT');
        return current;
      }
      await client.query(MIGRATIONS[current]!.sql);
      if (r.rows.length === 0)
        await client.query('INSERT INTO fgl_schema_version (version) VALUES (1)');
      else await client.query('UPDATE fgl_schema_version SET version = $1', [current + 1]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  }
}
