import type Database from 'better-sqlite3';
import { migrateSqlite, type Migration } from '../../core/db/migrate-sqlite';
import { migration001Initial } from './migrations/001-initial';
import { migration002ModelEvaluations } from './migrations/002-model-evaluations';
import { migration003SiteReissue } from './migrations/003-site-reissue';
import { migration004Workers } from './migrations/004-workers';

/**
 * The server store's migrations, in order, one per file. Append only; SQLite records the last one
 * applied in `PRAGMA user_version`, PostgreSQL in `fgl_schema_version` (postgres-migrations.ts).
 */
export const SERVER_MIGRATIONS: readonly Migration[] = [
  migration001Initial,
  migration002ModelEvaluations,
  migration003SiteReissue,
  migration004Workers,
];

/** The newer-schema refusal, worded the same on both engines. */
export function schemaTooNewError(
  where: string,
  current: number,
  known: number,
  backup: string,
): Error {
  return new Error(
    `${where} is at schema version ${current} but this fgl knows only ${known}; ` +
      `run the newer fgl that created it, or restore ${backup}`,
  );
}

/** Bring server.db up to date with the shared SQLite runner; returns the schema version. */
export function migrateServerSqlite(
  db: Database.Database,
  migrations: readonly Migration[] = SERVER_MIGRATIONS,
): number {
  migrateSqlite(
    db,
    migrations,
    {
      tooNew: (current, known) =>
        schemaTooNewError('server.db', current, known, 'a backup of the data dir'),
      failed: (m, e) =>
        new Error(
          `Upgrading server.db to schema ${m.version} (${m.name}) failed: ${(e as Error).message}; ` +
            'it was left at its previous version. Keep a copy of the data dir and report this error.',
          { cause: e },
        ),
    },
    'server store',
  );
  return migrations.length;
}
