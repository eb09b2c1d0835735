import { z } from 'zod';
import { StudyManifest } from '../../shared/study';
import { issueEnrollmentToken } from '../auth/enrollment';
import { createStudy } from '../store/create-study';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import {
  CreateEnrollmentTokenBody,
  CreateStudyBody,
  EnrollmentTokenResponse,
  StudyDetail,
  StudyId,
  StudyList,
} from '../../shared/server-api';
import { defineRoute, type AnyRouteSpec } from './route-def';

const StudyParams = z.object({ studyId: StudyId });

export function studyRoutes(deps: ApiDeps): AnyRouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/studies',
      tag: 'studies',
      summary: 'Create a study',
      description: 'Body: a study manifest without `id` and `createdAt`; the server assigns both.',
      auth: 'admin',
      body: CreateStudyBody,
      responses: { 201: { description: 'The stored study manifest', schema: StudyManifest } },
      handler: async ({ body, reply }) => {
        const manifest = await createStudy(deps.store, body, deps.clock);
        return reply.code(201).send(manifest);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies',
      tag: 'studies',
      summary: 'List studies (a site sees only those it is enrolled in)',
      auth: 'any',
      responses: { 200: { description: 'Studies', schema: StudyList } },
      handler: async ({ caller }) => ({
        studies: await deps.store.studies.list(caller.kind === 'site' ? caller.siteId : undefined),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId',
      tag: 'studies',
      summary: 'A study with its enrolled sites (a site sees only itself)',
      auth: 'any',
      params: StudyParams,
      responses: { 200: { description: 'The study', schema: StudyDetail } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const sites = (await deps.store.sites.ofStudy(study.id)).filter(
            (s) => caller.kind === 'admin' || (caller.kind === 'site' && s.id === caller.siteId),
          );
        return { id: study.id, manifest: study.manifest, createdAt: study.createdAt, sites };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/manifest',
      tag: 'studies',
      summary: 'The study manifest a site prepares its packages against',
      auth: 'any',
      params: StudyParams,
      responses: { 200: { description: 'The study manifest', schema: StudyManifest } },
      handler: async ({ params, caller }) => (await studyForCaller(deps, caller, params.studyId)).manifest,
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/studies/:studyId/enrollment-tokens',
      tag: 'enrollment',
      summary: 'Issue a one-time enrollment token for a site',
      description:
        'The token is shown once; hand it to the site together with the server key fingerprint, out of band. ' +
        'It expires after ttlSec (default 24 h) and can be redeemed once.',
      auth: 'admin',
      params: StudyParams,
      body: CreateEnrollmentTokenBody,
      responses: {
        201: { description: 'The token (shown once)', schema: EnrollmentTokenResponse },
      },
      handler: async ({ params, body, caller, reply }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const { token, expiresAt } = await issueEnrollmentToken(deps.store, deps.clock, {
          studyId: study.id,
          siteName: body.siteName,
          ttlSec: body.ttlSec,
        });
        return reply.code(201).send({
          token,
          studyId: study.id,
          siteName: body.siteName,
          expiresAt,
          serverKeyFingerprint: deps.signingKey.fingerprint,
        });
      },
    }),
  ];
}
