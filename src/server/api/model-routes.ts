import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  MANIFEST_FILE,
  ModelManifest,
  SafeRelativePath,
  SIGNATURE_FILE,
} from '../../shared/model-manifest';
import type { StoredModel } from '../store/server-store';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import { CanonicalPositiveInt, ModelVersionList, SharedMetrics, SharedMetricsList, SharedMetricsRecord, StudyId } from '../../shared/server-api';
import { HttpError, notFound } from './http-error';
import { sendFileWithRanges } from './send-file';
import { type AnyRouteSpec, type Caller, defineRoute } from './route-def';

const VersionParams = z.object({ studyId: StudyId, version: CanonicalPositiveInt });

function wire(m: StoredModel) {
  const { dir: _dir, ...rest } = m;
  return rest;
}

export function modelRoutes(deps: ApiDeps): AnyRouteSpec[] {
  const modelFor = async (caller: Caller, studyId: string, version: number): Promise<StoredModel> => {
    const study = await studyForCaller(deps, caller, studyId);
    const m = await deps.store.models.get(study.id, version);
    if (!m)
      throw notFound(
        'model_not_found',
        `study "${study.id}" has no model version ${version}`,
        'GET /v1/studies/:id/models lists the published versions.',
      );
    return m;
  };
  return [
    defineRoute({
      method: 'PUT',
      url: '/v1/studies/:studyId/models/:version/evaluation',
      tag: 'models',
      summary: "A site's opt-in aggregate metrics for a model version",
      description:
        'Sites send this only when their operator opts in. Aggregates only (accuracy, balanced accuracy, macro F1/AUROC, ECE, per-class P/R/F1 and support); any other field is refused. A new report from the same site replaces its previous one.',
      auth: 'site',
      params: VersionParams,
      body: SharedMetrics,
      responses: { 200: { description: 'Stored', schema: SharedMetricsRecord } },
      handler: async ({ params, body, caller }) => {
        const m = await modelFor(caller, params.studyId, params.version);
        const siteId = (caller as { siteId: string }).siteId;
        // A k floor: a class (or a whole evaluation) with fewer than k images tells the server how
        // the model did on those few images.
        const k = (await studyForCaller(deps, caller, params.studyId)).manifest.privacy.k;
        const small = body.perClass.filter((c) => c.support < k);
        if (body.samples < k || small.length > 0)
          throw new HttpError(
            422,
            'metrics_below_k',
            body.samples < k
              ? `Metrics refused: ${body.samples} evaluated images, fewer than the study's k = ${k}`
              : `Metrics refused: class${small.length > 1 ? 'es' : ''} ${small.map((c) => `"${c.name}" (support ${c.support})`).join(', ')} below the study's k = ${k}`,
            'Leave out classes with fewer than k images (FGL does this when it shares metrics) and share nothing from fewer than k images.',
          );
        const { receivedAt } = await deps.store.models.putEvaluation(m.studyId, m.version, siteId, body);
        return { studyId: m.studyId, version: m.version, siteId, metrics: body, receivedAt };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/evaluations',
      tag: 'models',
      summary: 'Shared evaluation metrics: all sites for the admin, its own for a site',
      auth: 'any',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'Shared metrics, by version and site', schema: SharedMetricsList } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const evaluations = await deps.store.models.listEvaluations(study.id, caller.kind === 'site' ? caller.siteId : undefined);
        return { evaluations };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/models',
      tag: 'models',
      summary: 'Published model versions of a study (monotonic)',
      auth: 'any',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'Versions, oldest first', schema: ModelVersionList } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        return { models: (await deps.store.models.list(study.id)).map(wire) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/models/:version/manifest.json',
      tag: 'models',
      summary: 'The signed model manifest, byte for byte as signed',
      auth: 'any',
      params: VersionParams,
      responses: {
        200: {
          description: 'manifest.json (verify manifest.sig over these exact bytes)',
          schema: ModelManifest,
        },
      },
      handler: async ({ params, caller, reply }) => {
        const m = await modelFor(caller, params.studyId, params.version);
        const bytes = await fs.readFile(path.join(m.dir, MANIFEST_FILE));
        return reply
          .type('application/json; charset=utf-8')
          .header('etag', `"${m.manifestSha256}"`)
          .send(bytes);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/models/:version/manifest.sig',
      tag: 'models',
      summary: 'Ed25519 signature over manifest.json, base64',
      auth: 'any',
      params: VersionParams,
      responses: { 200: { description: 'base64 signature', contentType: 'text/plain' } },
      handler: async ({ params, caller, reply }) => {
        const m = await modelFor(caller, params.studyId, params.version);
        const sig = await fs.readFile(path.join(m.dir, SIGNATURE_FILE), 'utf8');
        return reply.type('text/plain; charset=utf-8').send(sig);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/models/:version/files/*',
      tag: 'models',
      summary: 'A file listed in the manifest, with Range support (206/416), ETag = its sha256',
      description: 'Only paths listed in the signed manifest are served; anything else is 404.',
      auth: 'any',
      params: VersionParams.extend({ '*': SafeRelativePath }),
      responses: {
        200: { description: 'The whole file', contentType: 'application/octet-stream' },
        206: { description: 'The requested byte range', contentType: 'application/octet-stream' },
      },
      handler: async ({ params, caller, req, reply }) => {
        const m = await modelFor(caller, params.studyId, params.version);
        const manifest = ModelManifest.parse(
          JSON.parse(await fs.readFile(path.join(m.dir, MANIFEST_FILE), 'utf8')),
        );
        const rel = params['*'];
        const entry = manifest.files.find((f) => f.path === rel);
        if (!entry)
          throw notFound(
            'model_file_not_found',
            `model version ${m.version} has no file "${rel}"`,
            'The manifest lists every file.',
          );
        const contentType = rel.endsWith('.json') ? 'application/json' : 'application/octet-stream';
        return sendFileWithRanges(req, reply, {
          path: path.join(m.dir, ...rel.split('/')),
          bytes: entry.bytes,
          sha256: entry.sha256,
          contentType,
        });
      },
    }),
  ];
}
