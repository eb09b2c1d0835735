import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { AuditEntry, SiteHandlers } from '../../../shared/site-api';
import { StudyManifest } from '../../../shared/study';
import type { Ledger } from '../../ledger/ledger';
import type { UploadRow } from '../../ledger/uploads-repo';
import { sitePaths } from '../../site-home';
import { clientForStudy } from '../../client/enroll-site';
import type { SiteKeyVault } from '../../client/site-key-vault';
import type { PrepareResult } from '../../prepare/prepare-package';
import { parseReport } from '../../../shared/privacy-report';
import type { SiteModelDirs } from '../../prepare/site-models';
import { MachineSpend, machineSpendPath } from '../../privacy/machine-spend';
import { PLAN_FILE } from '../../prepare/release-plan';
import { SiteApiFailure } from '../site-api-failure';

export type ResolveModels = (setting: string) => Promise<SiteModelDirs & { tiny: boolean }>;

/** One preparation started in this backend session. */
export type PrepareJob = {
  controller: AbortController;
  done: Promise<PrepareResult>;
  result?: PrepareResult;
  error?: Error;
  studyId: string;
};

/** What every domain's handlers share: the site's home, its ledger, key vault and jobs. */
export type SiteContext = {
  home: string;
  paths: ReturnType<typeof sitePaths>;
  ledger: Ledger;
  vault: SiteKeyVault;
  resolveModels: ResolveModels;
  jobs: Map<string, PrepareJob>;
  /** The study's manifest from its server, or the copy cached at the last connection. */
  studyManifest(studyId: string): Promise<StudyManifest>;
  /** Packages (by sha256) being sent right now by this backend. */
  uploading: Set<string>;
  /** The machine-wide ε record ($FGL_PRIVACY_LEDGER or the per-user default), opened on first use. */
  machine(): MachineSpend;
  /** Close what this context opened (the machine-wide record). */
  close(): void;
  /**
   * A preparation by its runId: one of this session's, else one restored from the ledger and its
   * package folder (after a reload or a restart); a `not_found` failure when there is none.
   */
  job(runId: string): Promise<PrepareJob>;
};

/** The folder a preparation writes into: `<home>/packages/<runId>/`. */
export function packageDir(paths: ReturnType<typeof sitePaths>, runId: string): string {
  return join(paths.packages, runId);
}

/** The thumbnails' source, kept beside the package (this computer only; it never leaves). */
export const LOCAL_IMAGES_FILE = 'local-images.json';
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The runId of a package prepared through the site API (its folder's name), or null. */
export function runIdOf(paths: ReturnType<typeof sitePaths>, packagePath: string): string | null {
  const dir = dirname(resolve(packagePath));
  const id = basename(dir);
  return dirname(dir) === resolve(paths.packages) && RUN_ID.test(id) ? id : null;
}

/** How the app names a package or plan prepared with the CLI into a folder of its own choosing. */
const CLI_RUN = /^run-([1-9][0-9]*)$/;

/**
 * The app's id of a preparation: its folder's name when the app made it, else `run-<ledger run
 * id>` (`fgl site prepare --out DIR`): both are in the same ledger and listed together.
 */
export function appRunId(paths: ReturnType<typeof sitePaths>, ledgerRunId: number, fileInDir: string): string {
  return runIdOf(paths, fileInDir) ?? `run-${ledgerRunId}`;
}

/** The handlers of one domain: a slice of the contract, checked with `satisfies`. */
export type HandlerSlice<M extends keyof SiteHandlers> = Pick<SiteHandlers, M>;

export function createSiteContext(o: {
  home: string;
  ledger: Ledger;
  vault: SiteKeyVault;
  resolveModels: ResolveModels;
}): SiteContext {
  const jobs = new Map<string, PrepareJob>();
  const paths = sitePaths(o.home);
  let machine: MachineSpend | undefined;
  const restore = async (runId: string): Promise<PrepareJob | undefined> => {
    const cli = CLI_RUN.exec(runId);
    if (!RUN_ID.test(runId) && !cli) return undefined;
    const ofRun = (n: number) => (cli ? n === Number(cli[1]) : false);
    const pkg = o.ledger.packages.list({ limit: 10_000 }).find((p) => runIdOf(paths, p.path) === runId || (ofRun(p.runId) && runIdOf(paths, p.path) === null));
    // A DP plan not approved yet has no package row.
    const plan = pkg ? undefined : o.ledger.plans.list(10_000).find((p) => runIdOf(paths, join(p.dir, PLAN_FILE)) === runId || (ofRun(p.runId) && runIdOf(paths, join(p.dir, PLAN_FILE)) === null));
    const run = o.ledger.runs.get(pkg?.runId ?? plan?.runId ?? -1);
    if ((!pkg && !plan) || !run) return undefined;
    const dir = pkg ? dirname(pkg.path) : plan!.dir;
    const reportJsonPath = join(dir, 'privacy-report.json');
    const report = parseReport(JSON.parse(await readFile(reportJsonPath, 'utf8')), reportJsonPath);
    const local = (await readFile(join(dir, LOCAL_IMAGES_FILE), 'utf8')
      .then((t) => JSON.parse(t) as { dataRoot: string; images: PrepareResult['localImages'] })
      .catch(() => null)) ?? { dataRoot: report.dataset.root, images: [] };
    const result: PrepareResult = {
      runId: run.id,
      datasetId: run.datasetId,
      packagePath: pkg?.path ?? join(dir, 'package.safetensors'),
      reportJsonPath,
      reportMarkdownPath: join(dir, 'privacy-report.md'),
      sha256: pkg?.sha256 ?? null,
      bytes: pkg?.bytes ?? null,
      plan: plan ? { id: plan.id, path: join(dir, PLAN_FILE) } : null,
      report,
      localImages: local.images,
      dataRoot: local.dataRoot,
    };
    const j: PrepareJob = { controller: new AbortController(), done: Promise.resolve(result), result, studyId: run.studyId };
    jobs.set(runId, j);
    return j;
  };
  return {
    home: o.home,
    paths,
    ledger: o.ledger,
    vault: o.vault,
    resolveModels: o.resolveModels,
    jobs,
    uploading: new Set(),
    machine: () => (machine ??= MachineSpend.open(machineSpendPath())),
    close() {
      machine?.close();
      machine = undefined;
    },
    async studyManifest(studyId) {
      const cacheFile = join(o.home, 'studies', `${studyId}.json`);
      try {
        const { client } = clientForStudy(o.ledger, studyId, o.vault);
        const m = await client.getStudy(studyId);
        mkdirSync(join(o.home, 'studies'), { recursive: true });
        writeFileSync(cacheFile, JSON.stringify(m));
        return m;
      } catch (e) {
        // Offline: the copy fetched at the last connection is enough to prepare a package.
        try {
          return StudyManifest.parse(JSON.parse(await readFile(cacheFile, 'utf8')));
        } catch {
          throw e;
        }
      }
    },
    async job(runId) {
      const j = jobs.get(runId) ?? (await restore(runId));
      if (!j)
        throw new SiteApiFailure(
          'not_found',
          `No prepared package ${runId} on this site.`,
          'Choose one from the list of prepared packages, or prepare a new one.',
        );
      return j;
    },
  };
}

export function auditEntry(r: UploadRow): AuditEntry {
  return {
    id: r.id,
    time: r.createdAt,
    packageSha256: r.packageSha256,
    bytes: r.bytes,
    server: r.serverUrl,
    studyId: r.studyId,
    approvers: r.approvers,
    status: r.status,
  };
}
