import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
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
    // So does a body never read at all (refused in onRequest: no key, rate limit, too large).
    if ((req.body instanceof Readable && !req.body.readableEnded) || !req.raw.complete)
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
  // Node answers an Expect header other than 100-continue with a bare 417 unless someone listens.
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(
      apiError(
        'expectation_failed',
        `the Expect header ${JSON.stringify(String(req.headers.expect).slice(0, 100))} is not supported`,
        'Send no Expect header, or `Expect: 100-continue`.',
      ),
    );
    res.writeHead(417, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
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

/**
 * Requests Node's HTTP parser rejects (bad request line, header overflow, conflicting lengths)
 * never reach fastify's error handler; answer them in the same `{error:{code,message,hint}}`
 * envelope instead of fastify's default `{error,message,statusCode}`, then close the socket.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ([431, 'Request Header Fields Too Large', apiError('headers_too_large', 'the request headers (or the URL) are too large', 'Send a shorter URL and fewer or smaller headers.')] as const)
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ([408, 'Request Timeout', apiError('request_timeout', 'the request was not received in time', 'Retry; check the network between you and the server.')] as const)
        : ([400, 'Bad Request', apiError('malformed_http', 'the request is not valid HTTP/1.1', 'Use an HTTP client library; paths and headers must not hold raw control characters.')] as const);
  const text = JSON.stringify(body);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${text}`,
    );
  socket.destroy(err);
}

/**
 * Errors fastify raises while routing, before any handler (and before setErrorHandler): a URL
 * that is not valid percent-encoded UTF-8, or a path parameter over the router's length limit.
 */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
  void reply
    .code(tooLong ? 414 : 400)
    .type('application/json')
    .send(
      tooLong
        ? apiError('param_too_long', 'a path parameter is longer than the server accepts', 'Ids and file paths in URLs are short; check the URL.')
        : apiError('bad_url', 'the URL is not valid percent-encoded UTF-8', 'Percent-encode each path segment as UTF-8 (encodeURIComponent).'),
    );
}
