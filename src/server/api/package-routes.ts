import { Readable } from 'node:stream';
import { z } from 'zod';
import { Sha256Hex } from '../../shared/model-ref';
import { acceptPackage } from '../intake/accept-package';
import type { StoredPackage } from '../store/server-store';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import { PackageList, PackageRecord, PackageUploadResponse, StudyId } from '../../shared/server-api';
import { HttpError, notFound } from './http-error';
import { defineRoute, type AnyRouteSpec } from './route-def';

const PackageParams = z.object({ studyId: StudyId, sha256: Sha256Hex });

function wire(p: StoredPackage): PackageRecord {
  // The on-disk path is the server's business, not the client's.
  const { path: _path, ...rest } = p;
  return rest;
}

export function packageRoutes(deps: ApiDeps): AnyRouteSpec[] {
  return [
    defineRoute({
      method: 'PUT',
      url: '/v1/studies/:studyId/packages/:sha256',
      tag: 'packages',
      summary: 'Upload an embedding package (content-addressed, idempotent)',
      description:
        'Raw safetensors bytes, `Content-Type: application/octet-stream`. The body must hash to the sha256 in the ' +
        'URL. The package is validated against the study (structure, study and site ids, encoder id + sha256, D, ' +
        'finite values, labels, counts ≥ k, instance rows, DP ε) before anything is stored. 201 = stored, 200 = ' +
        'these bytes were already stored (no duplicate), 413 = over the size limit (stops reading at once).',
      auth: 'site',
      params: PackageParams,
      rawBody: { contentType: 'application/octet-stream', description: 'package.safetensors' },
      responses: {
        201: { description: 'Stored', schema: PackageUploadResponse },
        200: { description: 'Already stored (same bytes)', schema: PackageUploadResponse },
      },
      handler: async ({ params, caller, req, reply }) => {
        if (caller.kind !== 'site') throw new Error('unreachable: route is site-only');
        const study = await studyForCaller(deps, caller, params.studyId);
        if (!(req.body instanceof Readable))
          throw new HttpError(
            415,
            'unsupported_media_type',
            'the package must be sent as application/octet-stream',
            'Set `Content-Type: application/octet-stream` and send the raw file bytes.',
          );
        const cl = req.headers['content-length'];
        const { record, created } = await acceptPackage({
          store: deps.store,
          clock: deps.clock,
          layout: deps.layout,
          study: study.manifest,
          siteId: caller.siteId,
          expectedSha256: params.sha256,
          body: req.body,
          contentLength: cl === undefined ? undefined : Number(cl),
          limits: deps.limits,
        });
        req.log.info(
          {
            sha256: record.sha256,
            studyId: study.id,
            siteId: caller.siteId,
            bytes: record.bytes,
            created,
          },
          'package intake',
        );
        return reply.code(created ? 201 : 200).send({ package: wire(record), created });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/packages',
      tag: 'packages',
      summary: "List a study's packages (a site sees only its own)",
      auth: 'any',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'Packages', schema: PackageList } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const siteId = caller.kind === 'site' ? caller.siteId : undefined;
        return { packages: (await deps.store.packages.list(study.id, siteId)).map(wire) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/packages/:sha256',
      tag: 'packages',
      summary: 'One package record (404 for packages of other sites)',
      auth: 'any',
      params: PackageParams,
      responses: { 200: { description: 'The package record', schema: PackageRecord } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const p = await deps.store.packages.get(params.sha256);
        if (!p || p.studyId !== study.id || (caller.kind === 'site' && p.siteId !== caller.siteId))
          throw notFound(
            'package_not_found',
            `package ${params.sha256} not found in study "${study.id}"`,
            'Upload it with PUT on this URL.',
          );
        return wire(p);
      },
    }),
  ];
}
