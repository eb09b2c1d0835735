import type Database from 'better-sqlite3';

/**
 * One numbered schema migration. Released migrations are never edited; a change is a new
 * numbered file. `sql` is written so that every engine that runs it accepts it (the server
 * store's also run on PostgreSQL: src/server/store/postgres-migrations.ts).
 */
export type Migration = { version: number; name: string; sql: string };

/** How a database's owner words the two failures (the site ledger and the server store differ). */
export type MigrationErrors = {
  /** The file was written by a newer FGL: it must not be opened by this one. */
  tooNew(current: number, known: number): Error;
  /** Migration `m` failed and was rolled back. */
  failed(m: Migration, cause: unknown): Error;
};

/** Throws when `migrations` are not numbered 1, 2, 3… in order (a programming error). */
export function checkMigrationNumbers(migrations: readonly Migration[], what: string): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`${what} migration #${i + 1} is numbered ${m.version}`);
  });
}

/**
 * The one SQLite migration runner (site ledger and server store): bring the schema up to date,
 * each migration in its own IMMEDIATE transaction (a failure leaves the previous version; two
 * processes cannot both migrate). `PRAGMA user_version` records the last one applied; a newer
 * version than `migrations` knows is refused before anything changes. Returns how many ran.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: readonly Migration[],
  errors: MigrationErrors,
  what: string,
): number {
  checkMigrationNumbers(migrations, what);
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const current = version();
  // Downgrading must not silently run old code against a newer schema.
  if (current > migrations.length) throw errors.tooNew(current, migrations.length);
  let applied = 0;
  for (const m of migrations.slice(current)) {
    const apply = db.transaction(() => {
      // Re-read under the write lock: another process may have applied it since we looked.
      if (version() >= m.version) return false;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (apply.immediate()) applied++;
    } catch (e) {
      throw errors.failed(m, e);
    }
  }
  return applied;
}
