import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { ownerOnlySqliteFiles } from '../../core/fs/owner-only';
import { type Clock, systemClock } from '../../shared/clock';
import { EnrollmentRepo } from './repos/enrollment-repo';
import { ModelsRepo } from './repos/models-repo';
import { PackagesRepo } from './repos/packages-repo';
import { RepoContext } from './repos/repo-context';
import { RoundsRepo } from './repos/rounds-repo';
import { SitesRepo } from './repos/sites-repo';
import { StagesRepo } from './repos/stages-repo';
import { StudiesRepo } from './repos/studies-repo';
import { WorkersRepo } from './repos/workers-repo';
import { migrateServerSqlite } from './server-migrations';

export type { Clock };
export type { StoredStudy } from './repos/studies-repo';
export type { EnrollOutcome } from './repos/enrollment-repo';
export type { StoredPackage } from './repos/packages-repo';
export type { StageRecord } from './repos/stages-repo';
export type { StoredModel, ModelEvaluation } from './repos/models-repo';
export type { WorkerRecord, ReceiptKey, WorkerRoundProgress } from './repos/workers-repo';

/**
 * The server's store (docs/architecture.md, "Storage"): one SQLite file, server.db, behind one
 * repository per group of tables (repos/), like the site ledger. One writer (this process, or a
 * CLI admin command between requests — WAL lets them coexist), synchronous typed queries, every
 * multi-row change in a transaction. Files referenced by rows are written durably BEFORE their
 * row is inserted. Timestamps come from the clock injected at open.
 */
export class ServerStore {
  readonly studies: StudiesRepo;
  readonly sites: SitesRepo;
  readonly enrollment: EnrollmentRepo;
  readonly packages: PackagesRepo;
  readonly rounds: RoundsRepo;
  readonly stages: StagesRepo;
  readonly models: ModelsRepo;
  readonly workers: WorkersRepo;

  private constructor(
    private readonly db: Database.Database,
    /** The server.db file: what an operator (or a test) opens to inspect it. */
    readonly file: string,
    clock: Clock,
  ) {
    // File paths in rows are relative to the data dir, so the whole dir can be moved.
    const c = new RepoContext(db, () => clock().toISOString(), path.dirname(file));
    this.studies = new StudiesRepo(c);
    this.sites = new SitesRepo(c);
    this.enrollment = new EnrollmentRepo(c);
    this.packages = new PackagesRepo(c);
    this.rounds = new RoundsRepo(c);
    this.stages = new StagesRepo(c);
    this.models = new ModelsRepo(c);
    this.workers = new WorkersRepo(c);
  }

  static open(dbPath: string, clock: Clock = systemClock): ServerStore {
    const file = path.resolve(dbPath);
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
    return new ServerStore(db, file, clock);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
