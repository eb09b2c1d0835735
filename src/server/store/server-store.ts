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
import { openSqlDb } from './sql/open-sql-db';
import type { SqlDb } from './sql/sql-db';

export type { Clock };
export type { StoredStudy } from './repos/studies-repo';
export type { EnrollOutcome } from './repos/enrollment-repo';
export type { StoredPackage } from './repos/packages-repo';
export type { StageRecord } from './repos/stages-repo';
export type { StoredModel, ModelEvaluation } from './repos/models-repo';
export type { WorkerRecord, ReceiptKey, WorkerRoundProgress } from './repos/workers-repo';

/** Every repository of the store, on the database or on one transaction's connection. */
export class StoreRepos {
  readonly studies: StudiesRepo;
  readonly sites: SitesRepo;
  readonly enrollment: EnrollmentRepo;
  readonly packages: PackagesRepo;
  readonly rounds: RoundsRepo;
  readonly stages: StagesRepo;
  readonly models: ModelsRepo;
  readonly workers: WorkersRepo;

  constructor(protected readonly ctx: RepoContext) {
    this.studies = new StudiesRepo(ctx);
    this.sites = new SitesRepo(ctx);
    this.enrollment = new EnrollmentRepo(ctx);
    this.packages = new PackagesRepo(ctx);
    this.rounds = new RoundsRepo(ctx);
    this.stages = new StagesRepo(ctx);
    this.models = new ModelsRepo(ctx);
    this.workers = new WorkersRepo(ctx);
  }
}

/**
 * The server's store (docs/architecture.md, "Storage"): one repository per group of tables
 * (repos/), like the site ledger, with Promise-returning methods over one of two engines —
 * SQLite (server.db in the data dir, the embedded default) or PostgreSQL (`--store postgres://…`,
 * so several API replicas share it). Multi-row changes run in transactions; files referenced by
 * rows are written durably BEFORE their row is inserted. Timestamps come from the clock
 * injected at open.
 */
export class ServerStore extends StoreRepos {
  private constructor(
    private readonly sql: SqlDb,
    ctx: RepoContext,
  ) {
    super(ctx);
  }

  /**
   * Open (creating and migrating as needed) the store at `location`: a `postgres://` URL, or the
   * path of a SQLite file. File paths in rows are kept relative to `dataDir` (default: the SQLite
   * file's folder), so the whole data dir can be moved.
   */
  static async open(
    location: string,
    clock: Clock = systemClock,
    dataDir?: string,
  ): Promise<ServerStore> {
    const { db, root } = await openSqlDb(location, dataDir);
    return new ServerStore(db, new RepoContext(db, () => clock().toISOString(), root));
  }

  /** 'sqlite' or 'postgres'. */
  get engine(): 'sqlite' | 'postgres' {
    return this.sql.dialect.engine;
  }

  /** Where the store is: the server.db path, or the PostgreSQL URL without its password. */
  get location(): string {
    return this.sql.location;
  }

  /** Run `fn` atomically on both engines: if it throws, nothing written through `tx` is kept. */
  transaction<T>(fn: (tx: StoreRepos) => Promise<T>): Promise<T> {
    return this.sql.transaction((runner) => fn(new StoreRepos(this.ctx.on(runner))));
  }

  close(): Promise<void> {
    return this.sql.close();
  }
}
