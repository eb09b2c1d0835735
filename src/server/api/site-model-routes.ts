import path from 'node:path';
import { z } from 'zod';
import { describeSiteModel } from '../../core/models/site-model-files';
import { SafeRelativePath } from '../../shared/model-manifest';
import { StudyId } from '../../shared/server-api';
import {
  type SiteModelEntry,
  SiteModelList,
  SiteModelRole,
  siteModelPins,
} from '../../shared/site-model-bundle';
import type { StoredStudy } from '../store/server-store';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import { notFound } from './http-error';
import { type AnyRouteSpec, defineRoute } from './route-def';
import { sendFileWithRanges } from './send-file';

/** Where the server keeps each site model (its `--models` folder: encoder/ or the generator's text encoder, clip/, captioner/). */
export type SiteModelSource = Record<SiteModelRole, string | null>;

/** Descriptions of the last few seconds: a site fetching N files asks N times, the files do not change meanwhile. */
const recent = new Map<
  string,
  { at: number; d: Promise<{ sha256: string; files: SiteModelEntry['files'] } | { error: string }> }
>();
const RECENT_MS = 10_000;

function describedRecently(dir: string, role: SiteModelRole) {
  const key = `${role}\0${dir}`;
  const hit = recent.get(key);
  if (hit && Date.now() - hit.at < RECENT_MS) return hit.d;
  const d = describeSiteModel(dir, role).catch((e: unknown) => ({ error: (e as Error).message }));
  recent.set(key, { at: Date.now(), d });
  return d;
}

/**
 * The site models of a study this server can hand out: for each model the study pins, the
 * server's folder for that role, offered only when its digest is the pin (file hashes of big
 * files are memoized, so this reads no model bytes after the first time).
 */
async function siteModelsOf(
  source: SiteModelSource | null,
  study: StoredStudy,
): Promise<{
  models: (SiteModelEntry & { dir: string })[];
  unavailable: { role: SiteModelRole; reason: string }[];
}> {
  const models: (SiteModelEntry & { dir: string })[] = [];
  const unavailable: { role: SiteModelRole; reason: string }[] = [];
  for (const pin of siteModelPins(study.manifest)) {
    const dir = source?.[pin.role] ?? null;
    if (!pin.sha256) {
      unavailable.push({
        role: pin.role,
        reason: `the study pins no digest for its ${pin.role} model ${pin.id}, so a site could not verify it`,
      });
      continue;
    }
    if (!dir) {
      unavailable.push({
        role: pin.role,
        reason: `this server was started without a ${pin.role} model (fgl server start --models DIR)`,
      });
      continue;
    }
    const d = await describedRecently(dir, pin.role);
    if ('error' in d) {
      unavailable.push({ role: pin.role, reason: d.error });
      continue;
    }
    if (d.sha256 !== pin.sha256) {
      unavailable.push({
        role: pin.role,
        reason: `this server's ${pin.role} model (sha256 ${d.sha256.slice(0, 12)}…) is not the study's ${pin.id} (sha256 ${pin.sha256.slice(0, 12)}…)`,
      });
      continue;
    }
    models.push({
      role: pin.role,
      id: pin.id,
      revision: pin.revision,
      sha256: d.sha256,
      files: d.files,
      dir,
    });
  }
  return { models, unavailable };
}

/**
 * The models a site runs, from the study server: the one host a hospital firewall usually lets a
 * site reach. Sites verify every file against the list, and the list against the study's digest.
 */
export function siteModelRoutes(deps: ApiDeps): AnyRouteSpec[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/site-models',
      tag: 'models',
      summary:
        'The site-side models the study pins (encoder, CLIP, captioner) that this server holds, file by file',
      description:
        "Each model's files with sha256 and size; their digest is the study manifest's pin, which sites check before fetching. Models the server cannot offer are listed under `unavailable` with the reason.",
      auth: 'any',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'Site models', schema: SiteModelList } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const { models, unavailable } = await siteModelsOf(deps.siteModels, study);
        return { studyId: study.id, models: models.map(({ dir: _dir, ...m }) => m), unavailable };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/site-models/:role/files/*',
      tag: 'models',
      summary: 'A file of a site model, with Range support (206/416), ETag = its sha256',
      description:
        'Only files in the site-model list of the study are served; anything else is 404.',
      auth: 'any',
      params: z.object({ studyId: StudyId, role: SiteModelRole, '*': SafeRelativePath }),
      responses: {
        200: { description: 'The whole file', contentType: 'application/octet-stream' },
        206: { description: 'The requested byte range', contentType: 'application/octet-stream' },
      },
      handler: async ({ params, caller, req, reply }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const { models } = await siteModelsOf(deps.siteModels, study);
        const model = models.find((m) => m.role === params.role);
        const entry = model?.files.find((f) => f.path === params['*']);
        if (!model || !entry)
          throw notFound(
            'site_model_file_not_found',
            `study "${study.id}" has no ${params.role} model file "${params['*']}" on this server`,
            'GET /v1/studies/:id/site-models lists every file the server holds.',
          );
        return sendFileWithRanges(req, reply, {
          path: path.join(model.dir, ...entry.path.split('/')),
          bytes: entry.bytes,
          sha256: entry.sha256,
          contentType: entry.path.endsWith('.json')
            ? 'application/json'
            : 'application/octet-stream',
        });
      },
    }),
  ];
}
