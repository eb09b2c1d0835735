import { z } from 'zod';
import { issueEnrollmentToken, redeemEnrollmentToken } from '../auth/enrollment';
import type { ApiDeps } from './api-deps';
import { studyForCaller } from './api-deps';
import {
  EnrollBody,
  EnrollmentTokenResponse,
  EnrollResponse,
  ReissueTokenBody,
  RevokeSiteResponse,
  SiteId,
  StudyId,
  StudySiteList,
} from '../../shared/server-api';
import { HttpError, notFound } from './http-error';
import { defineRoute, type AnyRouteSpec } from './route-def';

const ASK_FOR_NEW =
  'Ask the study coordinator for a new enrollment token (`fgl server site enroll`).';

export function enrollRoutes(deps: ApiDeps): AnyRouteSpec[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/v1/enroll',
      tag: 'enrollment',
      summary: 'Redeem a one-time enrollment token',
      description:
        'A new site gets a site id and an API key (returned once; the server stores only its sha256) and the ' +
        "server's Ed25519 public key, which the site pins after comparing its fingerprint with the one the " +
        'coordinator gave out of band. An enrolled site may send its key to join another study; it keeps its key ' +
        '(apiKey: null). Errors: 401 invalid token, 410 used or expired token.',
      auth: 'optional',
      body: EnrollBody,
      bodyLimit: deps.limits.maxEnrollBytes,
      responses: { 201: { description: 'Enrolled', schema: EnrollResponse } },
      handler: async ({ body, caller, reply }) => {
        if (caller.kind === 'admin')
          throw new HttpError(
            400,
            'admin_cannot_enroll',
            'the admin key cannot enroll as a site',
            'Send the token without the admin key.',
          );
        const res = await redeemEnrollmentToken(
          deps.store,
          body.token,
          caller.kind === 'site' ? caller.siteId : undefined,
        );
        if (!res.ok) {
          switch (res.reason) {
            case 'invalid':
              throw new HttpError(
                401,
                'enrollment_token_invalid',
                'the enrollment token is not valid',
                ASK_FOR_NEW,
              );
            case 'used':
              throw new HttpError(
                410,
                'enrollment_token_used',
                'the enrollment token has already been used',
                ASK_FOR_NEW,
              );
            case 'expired':
              throw new HttpError(
                410,
                'enrollment_token_expired',
                'the enrollment token has expired',
                ASK_FOR_NEW,
              );
            case 'site_revoked':
              throw new HttpError(
                401,
                'site_revoked',
                'this site has been revoked',
                'Contact the study coordinator.',
              );
          }
        }
        return reply.code(201).send({
          siteId: res.siteId,
          siteName: res.siteName,
          apiKey: res.apiKey,
          studies: res.studies,
          serverPublicKey: deps.signingKey.publicKeyPem,
          serverKeyFingerprint: deps.signingKey.fingerprint,
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/studies/:studyId/sites',
      tag: 'enrollment',
      summary: 'The sites of a study with their state, active keys and package counts',
      auth: 'admin',
      params: z.object({ studyId: StudyId }),
      responses: { 200: { description: 'Sites', schema: StudySiteList } },
      handler: async ({ params, caller }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        return { sites: await deps.store.sites.records(study.id) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/studies/:studyId/sites/:siteId/enrollment-tokens',
      tag: 'enrollment',
      summary: 'Re-issue a one-time enrollment token for a known site (lost key, burned token)',
      description:
        'Redeeming it keeps the site id (and its packages), gives the site a new API key, revokes its old keys ' +
        'and re-activates a revoked site.',
      auth: 'admin',
      params: z.object({ studyId: StudyId, siteId: SiteId }),
      body: ReissueTokenBody,
      responses: {
        201: { description: 'The token (shown once)', schema: EnrollmentTokenResponse },
      },
      handler: async ({ params, body, caller, reply }) => {
        const study = await studyForCaller(deps, caller, params.studyId);
        const site = (await deps.store.sites.records(study.id)).find((s) => s.siteId === params.siteId);
        if (!site)
          throw notFound(
            'site_not_found',
            `site "${params.siteId}" is not enrolled in study "${study.id}"`,
            "List the study's sites with GET /v1/studies/:id/sites (fgl server site list).",
          );
        const { token, expiresAt } = await issueEnrollmentToken(deps.store, deps.clock, {
          studyId: study.id,
          siteName: site.name,
          ttlSec: body.ttlSec,
          siteId: site.siteId,
        });
        return reply.code(201).send({
          token,
          studyId: study.id,
          siteName: site.name,
          expiresAt,
          serverKeyFingerprint: deps.signingKey.fingerprint,
        });
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/v1/sites/:siteId/revoke',
      tag: 'enrollment',
      summary: 'Revoke a site: all its API keys stop working at once',
      auth: 'admin',
      params: z.object({ siteId: SiteId }),
      responses: { 200: { description: 'Revoked', schema: RevokeSiteResponse } },
      handler: async ({ params }) => {
        const res = await deps.store.sites.revoke(params.siteId);
        if (!res)
          throw notFound(
            'site_not_found',
            `site "${params.siteId}" not found`,
            'Check the site id (GET /v1/studies/:id/sites lists them).',
          );
        return { siteId: params.siteId, ...res };
      },
    }),
  ];
}
