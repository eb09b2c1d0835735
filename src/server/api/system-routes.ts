import type { ApiDeps } from './api-deps';
import { HealthResponse, ServerKeyResponse } from '../../shared/server-api';
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
      url: '/v1/server-key',
      tag: 'system',
      summary: "The server's Ed25519 public key (checked by a site before it redeems a token)",
      description:
        'Public, redeems nothing. A site compares the fingerprint (sha256 of the SPKI DER, computed by the site ' +
        'itself) with the one the coordinator gave out of band, and only then sends its one-time token.',
      auth: 'none',
      responses: { 200: { description: 'The public key', schema: ServerKeyResponse } },
      handler: async () => ({
        serverPublicKey: deps.signingKey.publicKeyPem,
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
