import { z } from 'zod';
import { ApiError } from '../../shared/api-error';
import type { AnyRouteSpec } from './route-def';

type JsonSchema = Record<string, unknown>;

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  // Requests are described as clients write them (defaults optional), responses as sent.
  const s = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'openapi-3.0',
  }) as JsonSchema;
  delete s.$schema;
  return s;
}

/** `/v1/studies/:studyId/files/*` → `/v1/studies/{studyId}/files/{path}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function parameters(spec: AnyRouteSpec): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue;
    const js = toSchema(schema, 'input') as {
      properties?: Record<string, JsonSchema>;
      required?: string[];
    };
    for (const [name, prop] of Object.entries(js.properties ?? {})) {
      out.push({
        name: name === '*' ? 'path' : name,
        in: where,
        required: where === 'path' || (js.required ?? []).includes(name),
        schema: prop,
      });
    }
  }
  return out;
}

/** The OpenAPI 3 document, built from the same zod schemas that validate the requests. */
export function buildOpenApi(
  routes: readonly AnyRouteSpec[],
  info: { version: string },
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const errorSchema = toSchema(ApiError, 'output');
  for (const spec of routes) {
    const p = openApiPath(spec.url);
    const responses: Record<string, JsonSchema> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      const content = r.schema
        ? { 'application/json': { schema: toSchema(r.schema, 'output') } }
        : r.contentType
          ? { [r.contentType]: {} }
          : undefined;
      responses[status] = { description: r.description, ...(content ? { content } : {}) };
    }
    responses.default = {
      description: 'Error: `{error:{code,message,hint}}`',
      content: { 'application/json': { schema: errorSchema } },
    };
    const op: JsonSchema = {
      operationId: `${spec.method.toLowerCase()}${p.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      parameters: parameters(spec),
      responses,
      security:
        spec.auth === 'none' || spec.auth === 'optional'
          ? spec.auth === 'optional'
            ? [{}, { siteKey: [] }]
            : []
          : spec.auth === 'admin'
            ? [{ adminKey: [] }]
            : spec.auth === 'site'
              ? [{ siteKey: [] }]
              : spec.auth === 'worker'
                ? [{ workerKey: [] }]
                : [{ adminKey: [] }, { siteKey: [] }],
    };
    if (spec.body)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: toSchema(spec.body, 'input') } },
      };
    if (spec.rawBody)
      op.requestBody = {
        required: true,
        description: spec.rawBody.description,
        content: { [spec.rawBody.contentType]: { schema: { type: 'string', format: 'binary' } } },
      };
    (paths[p] ??= {})[spec.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'FGL server API',
      version: info.version,
      description:
        'Federated Generative Learning server. Errors are `{error:{code,message,hint}}`. Resources a site may not see ' +
        "(studies it is not enrolled in, other sites' packages) answer 404, never 403, so their existence does not leak.",
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: {
        adminKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin key in <data>/keys/admin.key',
        },
        siteKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A site API key from POST /v1/enroll',
        },
        workerKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'A synthesis worker key from `fgl server worker enroll` (opens only /v1/worker)',
        },
      },
    },
    paths,
  };
}
