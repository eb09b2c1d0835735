import type { ApiDeps } from './api-deps';
import { HealthResponse } from '../../shared/server-api';
import { buildOpenApi } from './openapi';
import { defineRoute, type AnyRouteSpec } from './route-def';

export function systemRoutes(
  deps: ApiDeps,
  allRoutes: () => readonly AnyRouteSpec[],
): AnyRouteSpec[] {
  let doc: Record<string, unknown> | undefined;
  return [
    defineRoute({
      method: 'GET',
      url: '/v1/health',
      tag: 'system',
      summary: 'Liveness, version and the server key fingerprint',
      auth: 'none',
      responses: { 200: { description: 'OK', schema: HealthResponse } },
      handler: async () => ({
        status: 'ok',
        version: deps.version,
        serverKeyFingerprint: deps.signingKey.fingerprint,
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/openapi.json',
      tag: 'system',
      summary: 'This API as an OpenAPI 3 document',
      auth: 'none',
      responses: { 200: { description: 'OpenAPI 3.0 document', contentType: 'application/json' } },
      handler: async () => (doc ??= buildOpenApi(allRoutes(), { version: deps.version })),
    }),
  ];
}
