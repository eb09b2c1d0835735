import type Database from 'better-sqlite3';
import { migrateSqlite, type Migration } from '../../core/db/migrate-sqlite';
import { LedgerError } from './ledger-error';
import { migration001Initial } from './migrations/001-initial';
import { migration002Captions } from './migrations/002-captions';
import { migration003TlsPin } from './migrations/003-tls-pin';
import { migration004ClipDecode224 } from './migrations/004-clip-decode-224';
import { migration005ReleasedRows } from './migrations/005-released-rows';
import { migration006DpUnitSpend } from './migrations/006-dp-unit-spend';
import { migration007SiteSecrets } from './migrations/007-site-secrets';
import { migration008ReleasePlans } from './migrations/008-release-plans';

export type { Migration };

/** Every migration, in order. Append only; `PRAGMA user_version` records the last one applied. */
export const LEDGER_MIGRATIONS: readonly Migration[] = [
  migration001Initial,
  migration002Captions,
  migration003TlsPin,
  migration004ClipDecode224,
  migration005ReleasedRows,
  migration006DpUnitSpend,
  migration007SiteSecrets,
  migration008ReleasePlans,
];

export const LEDGER_SCHEMA_VERSION = LEDGER_MIGRATIONS.length;

/**
 * Bring the ledger's schema up to date with the shared runner (src/core/db/migrate-sqlite.ts),
 * in the ledger's own words when it fails. Returns the number of migrations applied.
 */
export function migrateLedger(
  db: Database.Database,
  file: string,
  migrations: readonly Migration[] = LEDGER_MIGRATIONS,
): number {
  return migrateSqlite(
    db,
    migrations,
    {
      // Downgrading the app must not silently run old code against a newer schema.
      tooNew: (current, known) =>
        new LedgerError(
          'ledger_too_new',
          `The ledger ${file} has schema version ${current}, but this version of FGL only knows up to ${known}: it was written by a newer FGL.`,
          'Update FGL to the version that last opened this ledger (or newer). Do not delete the ledger: it holds the audit log and the privacy budget spent.',
        ),
      failed: (m, e) =>
        new LedgerError(
          'migration_failed',
          `Upgrading the ledger ${file} to schema ${m.version} (${m.name}) failed: ${(e as Error).message}`,
          'The ledger was left at its previous version. Keep a copy of the file and report this error.',
          { cause: e },
        ),
    },
    'ledger',
  );
}
