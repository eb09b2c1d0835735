import Database from 'better-sqlite3';
import { ownerOnlySqliteFiles } from '../../core/fs/owner-only';
import fs from 'node:fs';
import path from 'node:path';
import { DatasetsRepo } from './datasets-repo';
import { DpBudgetRepo } from './dp-budget-repo';
import { EmbeddingsRepo } from './embeddings-repo';
import { CaptionsRepo } from './captions-repo';
import { EnrollmentsRepo } from './enrollments-repo';
import { EvaluationsRepo } from './evaluations-repo';
import { ImagesRepo } from './images-repo';
import { LedgerError } from './ledger-error';
import type { Clock } from './ledger-json';
import { LEDGER_MIGRATIONS, migrateLedger, type Migration } from './ledger-migrations';
import { ModelsRepo } from './models-repo';
import { PackagesRepo } from './packages-repo';
import { PlansRepo } from './plans-repo';
import { ReleasedRowsRepo } from './released-rows-repo';
import { SiteSecretsRepo } from './site-secrets-repo';
import { RunsRepo } from './runs-repo';
import { ScansRepo } from './scans-repo';
import { UploadsRepo } from './uploads-repo';

export type LedgerDatabase = Database.Database;

export type LedgerOpenOptions = {
  /** Injectable clock for tests. */
  now?: Clock;
  /** How long a writer waits for another process's lock before failing (ms). */
  busyTimeoutMs?: number;
  /** For tests of the upgrade path only. */
  migrations?: readonly Migration[];
};

const NOT_WRITABLE = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * When opening failed because this account may not write the ledger's folder or file (a
 * read-only FGL_HOME, a file owned by another user), the error that says so; otherwise null.
 * Probed by writing, since access(2) answers for the real, not the effective, user.
 */
function readOnlyFailure(file: string, cause: unknown): LedgerError | null {
  if (file === ':memory:') return null;
  const dir = path.dirname(file);
  const deny = (fn: () => void) => {
    try {
      fn();
      return false;
    } catch (e) {
      return NOT_WRITABLE.has((e as NodeJS.ErrnoException).code ?? '');
    }
  };
  const probe = path.join(dir, `.fgl-write-probe-${process.pid}`);
  const dirDenied = deny(() => {
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  });
  const fileDenied = !dirDenied && fs.existsSync(file) && deny(() => fs.closeSync(fs.openSync(file, 'r+')));
  if (!dirDenied && !fileDenied) return null;
  return new LedgerError(
    'ledger_read_only',
    dirDenied
      ? `The site's data folder ${dir} is read-only for this account, so the ledger cannot be written there.`
      : `The ledger ${file} is read-only for this account.`,
    'Set FGL_HOME to a folder this account can write (the ledger, keys and caches live there), or ask IT to give this account write access to it. Nothing was changed.',
    { cause },
  );
}

/**
 * The site's local record (docs/architecture.md, "Storage"): datasets, scans, runs, packages, the upload
 * audit log, the DP budget, enrollments, models and evaluations, in one SQLite file. Synchronous
 * (better-sqlite3): use it from a worker or utility process, never Electron's main thread.
 */
export class Ledger {
  readonly datasets: DatasetsRepo;
  readonly scans: ScansRepo;
  readonly images: ImagesRepo;
  readonly embeddings: EmbeddingsRepo;
  readonly captions: CaptionsRepo;
  readonly runs: RunsRepo;
  readonly packages: PackagesRepo;
  readonly plans: PlansRepo;
  readonly uploads: UploadsRepo;
  readonly dp: DpBudgetRepo;
  readonly enrollments: EnrollmentsRepo;
  readonly models: ModelsRepo;
  readonly evaluations: EvaluationsRepo;
  readonly releasedRows: ReleasedRowsRepo;
  readonly secrets: SiteSecretsRepo;

  private constructor(
    readonly db: LedgerDatabase,
    readonly file: string,
    now: Clock,
  ) {
    this.datasets = new DatasetsRepo(db, now);
    this.scans = new ScansRepo(db, now);
    this.images = new ImagesRepo(db);
    this.embeddings = new EmbeddingsRepo(db, now);
    this.captions = new CaptionsRepo(db, now);
    this.runs = new RunsRepo(db, now);
    this.packages = new PackagesRepo(db, now);
    this.plans = new PlansRepo(db, now);
    this.uploads = new UploadsRepo(db, now);
    this.dp = new DpBudgetRepo(db, now);
    this.enrollments = new EnrollmentsRepo(db, now);
    this.models = new ModelsRepo(db, now);
    this.evaluations = new EvaluationsRepo(db, now);
    this.releasedRows = new ReleasedRowsRepo(db, now);
    this.secrets = new SiteSecretsRepo(db, now);
  }

  /** Open (creating if needed) and migrate the ledger at `file`. */
  static open(file: string, opts: LedgerOpenOptions = {}): Ledger {
    const resolved = file === ':memory:' ? file : path.resolve(file);
    if (resolved !== ':memory:') fs.mkdirSync(path.dirname(resolved), { recursive: true, mode: 0o700 });
    let db: LedgerDatabase;
    try {
      db = new Database(resolved);
    } catch (e) {
      throw readOnlyFailure(resolved, e) ?? new LedgerError(
        'open_failed',
        `Cannot open the ledger ${resolved}: ${(e as Error).message}`,
        'Check that the folder is writable and the file is an FGL ledger (SQLite).',
        { cause: e },
      );
    }
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
      db.pragma('journal_mode = WAL');
      // FULL: a commit is on disk before it returns, so an ε charge or a released-row record cannot
      // be lost to a power cut after the package it covers was written (NORMAL could lose the last commit).
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrateLedger(db, resolved, opts.migrations ?? LEDGER_MIGRATIONS);
      // The ledger holds the site API key and the audit log: readable by this account only.
      if (resolved !== ':memory:') ownerOnlySqliteFiles(resolved);
      return new Ledger(db, resolved, opts.now ?? (() => new Date()));
    } catch (e) {
      db.close();
      if (e instanceof LedgerError) throw e;
      throw readOnlyFailure(resolved, e) ?? new LedgerError(
        'open_failed',
        `Cannot open the ledger ${resolved}: ${(e as Error).message}`,
        'Check that the file is an FGL ledger (SQLite) and not damaged; keep a copy before retrying.',
        { cause: e },
      );
    }
  }

  /** Schema version of the open file (PRAGMA user_version). */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /**
   * Run `fn` atomically: if it throws, nothing it wrote is kept. Nested calls become savepoints.
   * `fn` must be synchronous (an await inside would commit before the awaited work runs).
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** `PRAGMA integrity_check` result: ['ok'] when healthy. */
  integrityCheck(): string[] {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
