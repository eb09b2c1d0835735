import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { formatZodIssues } from '../../shared/zod-issues';
import { HttpError } from './http-error';

/** Who is calling: resolved from `Authorization: Bearer <key>` before the handler runs. */
export type Caller =
  | { kind: 'admin' }
  | { kind: 'site'; siteId: string }
  | { kind: 'worker'; workerId: string }
  | { kind: 'anonymous' };

/**
 * Who may call a route. `optional` = anyone; the handler sees who it is. `any` = admin or site.
 * A synthesis worker's key opens only `worker` routes (and `none` ones).
 */
export type RouteAuth = 'none' | 'admin' | 'site' | 'worker' | 'any' | 'optional';

export type ResponseSpec = {
  description: string;
  /** JSON body schema; omit for non-JSON bodies and say what they are in `contentType`. */
  schema?: z.ZodType;
  contentType?: string;
};

type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

export type RouteSpec<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> = {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** fastify path, e.g. /v1/studies/:studyId; `*` is a wildcard rest-of-path parameter. */
  url: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  params?: P;
  query?: Q;
  /** JSON body schema. Routes with a raw body set `rawBody` instead and read `req.body` as a stream. */
  body?: B;
  rawBody?: { contentType: string; description: string };
  /** Largest JSON body for this route, when smaller than the server's limit (413 before reading). */
  bodyLimit?: number;
  responses: Record<number, ResponseSpec>;
  handler(ctx: {
    params: Parsed<P>;
    query: Parsed<Q>;
    body: Parsed<B>;
    caller: Caller;
    req: FastifyRequest;
    reply: FastifyReply;
  }): Promise<unknown>;
};

/** A route spec with its type parameters erased: what the registry and the OpenAPI builder see. */
export type AnyRouteSpec = Omit<
  RouteSpec<z.ZodType | undefined, z.ZodType | undefined, z.ZodType | undefined>,
  'handler'
> & {
  handler(ctx: {
    params: unknown;
    query: unknown;
    body: unknown;
    caller: Caller;
    req: FastifyRequest;
    reply: FastifyReply;
  }): Promise<unknown>;
};

/** Identity function that checks a route spec's types (params/query/body → typed handler args). */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): AnyRouteSpec {
  return spec as unknown as AnyRouteSpec;
}

function validate(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (schema === undefined) return undefined;
  const r = schema.safeParse(value);
  if (!r.success)
    throw new HttpError(
      400,
      'invalid_request',
      `invalid ${where}: ${formatZodIssues(r.error.issues, 5)}`,
      `See /v1/openapi.json for the ${where} schema.`,
    );
  return r.data;
}

export type CallerResolver = (req: FastifyRequest) => Promise<Caller>;

function authorize(auth: RouteAuth, caller: Caller): void {
  if (auth === 'none') return;
  if (caller.kind === 'worker' && auth !== 'worker')
    throw new HttpError(
      403,
      'worker_key_not_allowed',
      'a synthesis worker key only opens the /v1/worker endpoints',
      'Use a site key or the admin key for this endpoint.',
    );
  if (auth === 'optional') return;
  if (caller.kind === 'anonymous')
    throw new HttpError(
      401,
      'unauthorized',
      'this endpoint needs an API key',
      'Send `Authorization: Bearer <key>`: a site key from enrollment, or the admin key.',
      {
        'www-authenticate': 'Bearer',
      },
    );
  if (auth === 'admin' && caller.kind !== 'admin')
    throw new HttpError(
      403,
      'admin_only',
      'this endpoint is for the study coordinator (admin key)',
      'Use the admin key from <data>/keys/admin.key, or the `fgl server` CLI on the server.',
    );
  if (auth === 'worker' && caller.kind !== 'worker')
    throw new HttpError(
      403,
      'worker_only',
      'this endpoint is for synthesis workers',
      'Call it with a worker key from `fgl server worker enroll`.',
    );
  if (auth === 'site' && caller.kind !== 'site')
    throw new HttpError(
      403,
      'site_only',
      'this endpoint is for enrolled sites',
      'Call it with the site API key returned by POST /v1/enroll.',
    );
}

/** Register routes on fastify with zod validation and authorization in front of each handler. */
export function registerRoutes(
  app: FastifyInstance,
  routes: readonly AnyRouteSpec[],
  resolveCaller: CallerResolver,
): void {
  const callers = new WeakMap<FastifyRequest, Caller>();
  for (const spec of routes) {
    app.route({
      method: spec.method,
      url: spec.url,
      ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
      // Who is calling is settled in onRequest: before a single byte of the body is read or
      // parsed, so an unauthenticated body costs the server nothing (401, connection closed).
      onRequest: async (req) => {
        const caller: Caller = spec.auth === 'none' ? { kind: 'anonymous' } : await resolveCaller(req);
        authorize(spec.auth, caller);
        callers.set(req, caller);
      },
      handler: async (req, reply) => {
        const caller = callers.get(req);
        if (caller === undefined)
          throw new Error('unreachable: the onRequest hook sets the caller');
        const params = validate(spec.params, req.params, 'path parameters');
        const query = validate(spec.query, req.query, 'query');
        const body = spec.rawBody ? undefined : validate(spec.body, req.body ?? undefined, 'body');
        return spec.handler({ params, query, body, caller, req, reply });
      },
    });
  }
}
