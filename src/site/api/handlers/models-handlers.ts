import { join } from 'node:path';
import { JOB_NAMES } from '../../../shared/site-api';
import { clientForStudy } from '../../client/enroll-site';
import { pullModel } from '../../client/pull-model';
import { fetchSiteModels, importSiteModels } from '../../client/site-models-install';
import type { HandlerSlice, SiteContext } from './site-context';

function verificationText(state: string, error: string | null): string {
  if (state === 'verified') return 'signature by the pinned key verified; every file checked by sha256';
  if (state === 'failed') return `refused: ${error ?? 'verification failed'}`;
  return 'not verified yet';
}

/**
 * Models: the study's published versions, and pulling one with signature + digest checks; the
 * models the site runs itself, from the study server or a folder, checked against the study's digests.
 */
export function modelsHandlers(c: SiteContext) {
  return {
    async 'models.list'(req, ctx) {
      const { client } = clientForStudy(c.ledger, req.studyId, c.vault);
      const remote = await client.listModels(req.studyId, ctx.signal).catch(() => []);
      const local = c.ledger.models.list(req.studyId);
      const versions = [
        ...new Set([...remote.map((m) => m.version), ...local.map((m) => m.version)]),
      ].sort((a, b) => b - a);
      return {
        models: versions.map((v) => {
          const row = local.find((m) => m.version === v);
          return {
            studyId: req.studyId,
            version: v,
            downloaded: Boolean(row),
            verified: row ? row.verified === 'verified' : null,
            verification: row ? verificationText(row.verified, row.verifyError) : null,
          };
        }),
      };
    },
    async 'models.pull'(req, ctx) {
      const r = await pullModel(c.ledger, req.studyId, {
        vault: c.vault,
        ...(req.version ? { version: req.version } : {}),
        modelsRoot: join(c.paths.downloads, 'models'),
        signal: ctx.signal,
        onProgress: (progress) =>
          ctx.emit({ type: 'progress', job: JOB_NAMES.pull(req.studyId), progress }),
      });
      return {
        studyId: req.studyId,
        version: r.row.version,
        downloaded: true,
        verified: r.row.verified === 'verified',
        verification: `${verificationText(r.row.verified, r.row.verifyError)} (${r.manifest.files.length} files)`,
      };
    },
    async 'models.siteFetch'(req, ctx) {
      return fetchSiteModels(c.ledger, req.studyId, {
        vault: c.vault,
        modelsRoot: c.paths.models,
        signal: ctx.signal,
        onProgress: (progress) => ctx.emit({ type: 'progress', job: JOB_NAMES.siteModels(req.studyId), progress }),
      });
    },
    async 'models.siteImport'(req, ctx) {
      return importSiteModels(await c.studyManifest(req.studyId), req.dir, {
        modelsRoot: c.paths.models,
        signal: ctx.signal,
        onProgress: (progress) => ctx.emit({ type: 'progress', job: JOB_NAMES.siteModels(req.studyId), progress }),
      });
    },
  } satisfies HandlerSlice<'models.list' | 'models.pull' | 'models.siteFetch' | 'models.siteImport'>;
}
