import type { FastifyError, FastifyInstance } from 'fastify';
import { Readable } from 'node:stream';
import { apiError } from '../../shared/api-error';
import { HttpError } from './http-error';

const FASTIFY_CODES: Record<string, { code: string; hint?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    hint: 'Send JSON (application/json), or application/octet-stream for package uploads.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', hint: 'Send a smaller request body.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'invalid_request',
    hint: 'Send a JSON body, or no Content-Type.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', hint: 'Send a valid JSON body.' },
};

/** Errors that mean the disk (or quota) is full: the request is fine, the server cannot store it now. */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'SQLITE_FULL']);

/**
 * Every error leaves as `{error:{code,message,hint}}`. 5xx details stay in the log (with the
 * request id); the client gets a generic message. Request bodies are never logged.
 */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    // A streamed body we did not finish reading: close the connection rather than drain it.
    if (req.body instanceof Readable && !req.body.readableEnded)
      reply.header('connection', 'close');
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      if (err.status >= 500) req.log.error({ code: err.code, msg: err.message }, 'request failed');
      return reply
        .code(err.status)
        .type('application/json')
        .send(apiError(err.code, err.message, err.hint));
    }
    if (DISK_FULL.has((err as NodeJS.ErrnoException).code ?? '')) {
      req.log.error({ err }, 'disk full');
      return reply
        .code(507)
        .type('application/json')
        .send(
          apiError(
            'insufficient_storage',
            'the server ran out of disk space (insufficient storage); nothing was stored',
            'Retry later. Server operator: free space on the disk that holds the data directory.',
          ),
        );
    }
    const fe = err as FastifyError;
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status < 500) {
      const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
      const code =
        mapped?.code ??
        (fe.code
          ? fe.code
              .replace(/^FST_ERR_/, '')
              .toLowerCase()
              .replace(/[^a-z0-9_]/g, '_')
          : 'bad_request');
      return reply
        .code(status)
        .type('application/json')
        .send(apiError(code, fe.message, mapped?.hint));
    }
    req.log.error({ err }, 'unhandled error');
    return reply
      .code(500)
      .type('application/json')
      .send(
        apiError(
          'internal_error',
          `internal server error (request ${req.id})`,
          'Retry; if it persists, give the request id to the server operator.',
        ),
      );
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .type('application/json')
      .send(
        apiError(
          'route_not_found',
          `no route ${req.method} ${req.url.split('?')[0]}`,
          'GET /v1/openapi.json lists every route.',
        ),
      );
  });
}
