import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEntry, SiteHandlers } from '../../../shared/site-api';
import { StudyManifest } from '../../../shared/study';
import type { Ledger } from '../../ledger/ledger';
import type { UploadRow } from '../../ledger/uploads-repo';
import { sitePaths } from '../../site-home';
import { clientForStudy } from '../../client/enroll-site';
import type { SiteKeyVault } from '../../client/site-key-vault';
import type { PrepareResult } from '../../prepare/prepare-package';
import type { SiteModelDirs } from '../../prepare/site-models';
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
  /** A preparation of this session, or a `not_found` failure. */
  job(runId: string): PrepareJob;
};

/** The handlers of one domain: a slice of the contract, checked with `satisfies`. */
export type HandlerSlice<M extends keyof SiteHandlers> = Pick<SiteHandlers, M>;

export function createSiteContext(o: {
  home: string;
  ledger: Ledger;
  vault: SiteKeyVault;
  resolveModels: ResolveModels;
}): SiteContext {
  const jobs = new Map<string, PrepareJob>();
  return {
    home: o.home,
    paths: sitePaths(o.home),
    ledger: o.ledger,
    vault: o.vault,
    resolveModels: o.resolveModels,
    jobs,
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
    job(runId) {
      const j = jobs.get(runId);
      if (!j)
        throw new SiteApiFailure(
          'not_found',
          `No preparation ${runId} in this session.`,
          'Start a new preparation.',
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
