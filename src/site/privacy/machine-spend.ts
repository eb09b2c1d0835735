/**
 * The machine-wide ε record: what every site ledger of this OS account has spent, per privacy
 * unit by content. A site ledger lives in $FGL_HOME, so a second FGL_HOME (another folder, the
 * desktop app next to the CLI) would start with a fresh budget for the same images; this one file
 * outside every FGL_HOME is what they all charge and check (issue #12 item 4).
 *
 * Where: $FGL_PRIVACY_LEDGER when set (tests, or IT pinning it to a managed path), else the OS's
 * per-user state folder: ~/.local/state/fgl (XDG_STATE_HOME), ~/Library/Application Support/FGL
 * on macOS, %LOCALAPPDATA%\FGL on Windows; the file is `privacy-spend.sqlite`, readable by this
 * account only. Like the site ledger it commits with synchronous = FULL and is append-only.
 *
 * Keys: `image:<sha256>` as in the site ledger (content names itself on any ledger); patient
 * units under an HMAC key kept in this file (each site ledger's own patient key differs).
 * Not covered: another OS account, another machine, or a user who deletes this file; the
 * server's per-study ε total (issue #12 item 4, second half) is the check that does not rely on
 * the site.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ownerOnlySqliteFiles } from '../../core/fs/owner-only';
import { migrateSqlite, type Migration, type MigrationErrors } from '../../core/db/migrate-sqlite';

export const MACHINE_SPEND_FILE = 'privacy-spend.sqlite';

/** The record's path: $FGL_PRIVACY_LEDGER, else the per-user state folder (outside any FGL_HOME). */
export function machineSpendPath(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.FGL_PRIVACY_LEDGER) return path.resolve(env.FGL_PRIVACY_LEDGER);
  const home = homedir();
  switch (platform) {
    case 'win32':
      return path.join(
        env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'),
        'FGL',
        MACHINE_SPEND_FILE,
      );
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'FGL', MACHINE_SPEND_FILE);
    default:
      return path.join(
        env.XDG_STATE_HOME ?? path.join(home, '.local', 'state'),
        'fgl',
        MACHINE_SPEND_FILE,
      );
  }
}

/**
 * The record's schema, one numbered migration per change, run by the SQLite runner the ledger and
 * the server store share (`IF NOT EXISTS`: a record written before it was versioned migrates too).
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'unit-spend',
    sql: `
CREATE TABLE IF NOT EXISTS unit_spend (
  id INTEGER PRIMARY KEY,
  unit_key TEXT NOT NULL,
  study_id TEXT NOT NULL,
  epsilon REAL NOT NULL CHECK (epsilon >= 0),
  delta REAL NOT NULL CHECK (delta >= 0 AND delta < 1),
  package_sha256 TEXT NOT NULL,
  site_ledger TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS unit_spend_key ON unit_spend (unit_key);
CREATE TRIGGER IF NOT EXISTS unit_spend_no_update BEFORE UPDATE ON unit_spend
  BEGIN SELECT RAISE(ABORT, 'the machine-wide ε record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS unit_spend_no_delete BEFORE DELETE ON unit_spend
  BEGIN SELECT RAISE(ABORT, 'the machine-wide ε record is append-only'); END;
CREATE TABLE IF NOT EXISTS secrets (
  name TEXT PRIMARY KEY,
  secret BLOB NOT NULL CHECK (length(secret) >= 32),
  created_at TEXT NOT NULL
);
`,
  },
];

const MIGRATION_ERRORS: MigrationErrors = {
  tooNew: (current, known) =>
    new Error(
      `it is at schema version ${current}, written by a newer FGL (this one knows ${known})`,
    ),
  failed: (m, cause) =>
    new Error(`migration ${m.version} (${m.name}) failed: ${(cause as Error).message}`),
};

export class MachineSpend {
  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {}

  /** Open (creating if needed) the record at `file` (default: machineSpendPath()). */
  static open(file: string = machineSpendPath()): MachineSpend {
    const resolved = file === ':memory:' ? file : path.resolve(file);
    if (resolved !== ':memory:')
      fs.mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
    let db: Database.Database;
    try {
      db = new Database(resolved);
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      migrateSqlite(db, MIGRATIONS, MIGRATION_ERRORS, 'machine-wide ε record');
      if (resolved !== ':memory:') ownerOnlySqliteFiles(resolved);
    } catch (e) {
      throw Object.assign(
        new Error(`Cannot open the machine-wide ε record ${resolved}: ${(e as Error).message}`),
        {
          hint: 'Set FGL_PRIVACY_LEDGER to a file this account can write (one path for every FGL_HOME of this account), or ask IT to fix the folder’s permissions. Nothing was charged.',
          cause: e,
        },
      );
    }
    return new MachineSpend(db, resolved);
  }

  /** The HMAC key for patient units in this record: 32 random bytes, made once. */
  patientKey(): Buffer {
    this.db
      .prepare('INSERT OR IGNORE INTO secrets (name, secret, created_at) VALUES (?, ?, ?)')
      .run('patient-key', randomBytes(32), new Date().toISOString());
    return (
      this.db.prepare('SELECT secret FROM secrets WHERE name = ?').get('patient-key') as {
        secret: Buffer;
      }
    ).secret;
  }

  /** The most ε any of these units has spent, from any site ledger of this account (0 when none). */
  spentByUnits(unitKeys: readonly string[]): number {
    const r = this.db
      .prepare(
        `SELECT max(total) AS epsilon FROM (
           SELECT sum(epsilon) AS total FROM unit_spend WHERE unit_key IN (SELECT value FROM json_each(?)) GROUP BY unit_key)`,
      )
      .get(JSON.stringify(unitKeys)) as { epsilon: number | null };
    return r.epsilon ?? 0;
  }

  /** Charge ε to every unit, in one durable commit. */
  recordUnits(
    unitKeys: readonly string[],
    e: {
      studyId: string;
      epsilon: number;
      delta: number;
      packageSha256: string;
      siteLedger: string;
    },
  ): void {
    const at = new Date().toISOString();
    const ins = this.db.prepare(
      'INSERT INTO unit_spend (unit_key, study_id, epsilon, delta, package_sha256, site_ledger, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const key of unitKeys)
        ins.run(key, e.studyId, e.epsilon, e.delta, e.packageSha256, e.siteLedger, at);
    })();
  }

  close(): void {
    this.db.close();
  }
}
