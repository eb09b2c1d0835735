import type { FastifyInstance } from 'fastify';
import { Transform, type TransformCallback } from 'node:stream';
import type { ServerLimits } from '../server-config';
import { HttpError } from './http-error';

type BodyGuardLimits = Pick<
  ServerLimits,
  'bodyTimeoutMs' | 'minUploadBytesPerSec' | 'uploadWindowMs' | 'connectionTimeoutMs'
>;

function bodyTimeout(ms: number): HttpError {
  return new HttpError(
    408,
    'request_timeout',
    `the request body did not arrive within ${Math.round(ms / 1000)} s`,
    'Retry; check the network between you and the server.',
    { connection: 'close' },
  );
}

function tooSlow(minBytesPerSec: number, windowMs: number, got: number): HttpError {
  return new HttpError(
    408,
    'upload_too_slow',
    `the upload sent ${got} bytes in the last ${Math.round(windowMs / 1000)} s; the server needs at least ${minBytesPerSec} bytes/s`,
    'Retry the upload on a faster connection (fgl site upload --resume); nothing was stored.',
    { connection: 'close' },
  );
}

/**
 * A pass-through for a request body that fails with 408 when the body is too slow: a JSON body
 * must be complete within `deadlineMs`; a raw upload must keep `minBytesPerSec` over every
 * `windowMs`. Timers stop when the body ends or the stream is destroyed.
 */
export function guardedBody(o: {
  deadlineMs?: number;
  minBytesPerSec?: number;
  windowMs?: number;
}): Transform & { stop(): void } {
  let windowBytes = 0;
  const timers: NodeJS.Timeout[] = [];
  const stop = () => timers.forEach((t) => (clearTimeout(t), clearInterval(t)));
  const guard = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      windowBytes += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      stop();
      cb();
    },
    destroy(err, cb) {
      stop();
      cb(err);
    },
  });
  if (o.deadlineMs !== undefined) {
    const ms = o.deadlineMs;
    timers.push(setTimeout(() => guard.destroy(bodyTimeout(ms)), Math.max(0, ms)));
  }
  if (o.minBytesPerSec !== undefined && o.windowMs !== undefined) {
    const { minBytesPerSec, windowMs } = o;
    timers.push(
      setInterval(() => {
        if (windowBytes < (minBytesPerSec * windowMs) / 1000)
          guard.destroy(tooSlow(minBytesPerSec, windowMs, windowBytes));
        windowBytes = 0;
      }, windowMs),
    );
  }
  for (const t of timers) t.unref();
  // A body nobody reads (the route refused the request first) must not throw when a timer fires.
  guard.on('error', () => undefined);
  return Object.assign(guard, { stop });
}

/**
 * Install the body guard on every route (a preParsing hook: after the onRequest hooks that check
 * the rate limit and the API key, before any byte of the body is read). Raw uploads
 * (application/octet-stream) get the minimum throughput; every other body the deadline, counted
 * from the request's start.
 */
export function installBodyGuard(app: FastifyInstance, limits: BodyGuardLimits): void {
  app.addHook('onRequest', async (req) => {
    startedAt.set(req.raw, performance.now());
  });
  // Any answer given before the body was read (401, 404, 429, 413 …) closes the connection:
  // otherwise Node would keep reading (draining) a trickling body for the next request.
  app.addHook('onSend', async (req, reply) => {
    if (!req.raw.complete) reply.header('connection', 'close');
    // The answer is on its way: a client that stops reading it is idle again.
    req.raw.socket?.setTimeout(limits.connectionTimeoutMs);
  });
  // The idle timeout (`connectionTimeout`) is for clients that stop sending or reading. While a
  // handler works (real models make some answers take minutes) the socket is quiet through no
  // fault of the client, so it is paused from here until the answer starts (onSend above).
  // Slow bodies stay bounded by the guard below (deadline, or minimum rate for uploads).
  app.addHook('preHandler', async (req) => {
    req.raw.socket?.setTimeout(0);
  });
  app.addHook('preParsing', async (req, reply, payload) => {
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return payload;
    const raw = String(req.headers['content-type'] ?? '').startsWith('application/octet-stream');
    const guard = raw
      ? guardedBody({
          minBytesPerSec: limits.minUploadBytesPerSec,
          windowMs: limits.uploadWindowMs,
        })
      : guardedBody({
          deadlineMs:
            limits.bodyTimeoutMs -
            (performance.now() - (startedAt.get(req.raw) ?? performance.now())),
        });
    // Errors of the source (a reset) reach the parser through the guard.
    payload.on('error', (err) => guard.destroy(err));
    payload.once('close', () => {
      if (!req.raw.complete)
        guard.destroy(new Error('the client closed the connection before the body ended'));
    });
    // Once the answer is out, the body's timers have nothing left to protect.
    reply.raw.once('close', guard.stop);
    return payload.pipe(guard);
  });
}

const startedAt = new WeakMap<object, number>();
