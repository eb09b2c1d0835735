import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import {
  enrollSite,
  startTestServer,
  studyBody,
  type TestServer,
} from '../../helpers/server-fixture';
import { summarize } from '../load/latency-stats';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14, finding 1: slow and unauthenticated bodies. Loopback only, bounded in count and time.
 * The server under test runs with short timeouts (given as limits) so each attack ends in seconds.
 */

const SLOW_SOCKETS = 200;
const BODY_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1000;
const MAX_CONNECTIONS = 40;

type RawAnswer = { status: number | null; closedAfterMs: number | null; text: string };

/** Open a raw socket, send `head`, then `trickle` bytes every `everyMs`; resolve when the server answers and closes, or at `waitMs`. */
function rawRequest(
  port: number,
  head: string,
  o: { trickle?: string; everyMs?: number; waitMs: number },
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(deadline);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({
        status: m ? Number(m[1]) : null,
        closedAfterMs: closed ? performance.now() - started : null,
        text,
      });
      socket.destroy();
    };
    const deadline = setTimeout(() => done(false), o.waitMs);
    socket.on('connect', () => {
      socket.write(head);
      if (o.trickle)
        timer = setInterval(() => {
          if (socket.writable) socket.write(o.trickle!);
        }, o.everyMs ?? 200);
    });
    socket.on('data', (c: Buffer) => (text += c.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
  });
}

const figures: Record<string, number | string> = {};
afterAll(() => void recordFigures('attack', '#1 slow and unauthenticated bodies', figures));

describe('slow and unauthenticated clients (issue #14 finding 1)', () => {
  let t: TestServer;
  let port: number;
  let study: StudyManifest;
  let siteKey: string;

  beforeAll(async () => {
    t = await startTestServer({
      limits: {
        bodyTimeoutMs: BODY_TIMEOUT_MS,
        connectionTimeoutMs: IDLE_TIMEOUT_MS,
        maxConnections: MAX_CONNECTIONS * 10,
        minUploadBytesPerSec: 10_000,
        uploadWindowMs: 1000,
      },
    });
    port = Number(new URL(t.url).port);
    const res = await t.api('POST', '/v1/studies', { key: t.adminKey, json: studyBody() });
    study = res.json as StudyManifest;
    siteKey = (await enrollSite(t, study.id, 'Slow Site')).apiKey;
  });
  afterAll(async () => t?.close());

  it('checks the API key before reading a body: invalid JSON without a key is 401, not 400', async () => {
    const res = await t.api('POST', '/v1/studies', {
      body: new TextEncoder().encode('{"not json'),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it(`answers ${SLOW_SOCKETS} unauthenticated slow bodies at once with 401 and closes them`, async () => {
    const head =
      'POST /v1/studies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[';
    const answers = await Promise.all(
      Array.from({ length: SLOW_SOCKETS }, () =>
        rawRequest(port, head, { trickle: '[', everyMs: 200, waitMs: 4000 }),
      ),
    );
    const closed = answers.filter((a) => a.closedAfterMs !== null);
    figures['slow unauthenticated bodies'] = SLOW_SOCKETS;
    figures['closed within 4 s'] = closed.length;
    figures['answered 401'] = answers.filter((a) => a.status === 401).length;
    figures['slowest close ms'] = Math.round(Math.max(0, ...closed.map((a) => a.closedAfterMs!)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 401));
    expect(closed.length).toBe(SLOW_SOCKETS);
  });

  it('cuts a slow enroll body (no key needed there) after the body timeout with 408', async () => {
    const head =
      'POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{';
    const a = await rawRequest(port, head, {
      trickle: ' ',
      everyMs: 100,
      waitMs: BODY_TIMEOUT_MS + 3000,
    });
    figures['slow enroll body closed after ms'] =
      a.closedAfterMs === null ? 'open' : Math.round(a.closedAfterMs);
    expect(a.status).toBe(408);
    expect(a.closedAfterMs).not.toBeNull();
    expect(a.text).toContain('request_timeout');
  });

  it('closes a slow body sent to a route that does not exist within the body timeout', async () => {
    const head =
      'POST /v1/no-such-route HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[';
    const a = await rawRequest(port, head, { trickle: '[', everyMs: 100, waitMs: 3000 });
    figures['slow body to an unknown route closed after ms'] =
      a.closedAfterMs === null ? 'open' : Math.round(a.closedAfterMs);
    // fastify reads the body of an unmatched route too, so the body deadline ends it.
    expect(a.status).toBe(408);
    expect(a.closedAfterMs).not.toBeNull();
    expect(a.closedAfterMs!).toBeLessThan(BODY_TIMEOUT_MS + 1500);
  });

  it('refuses an enroll body over its small limit (4 KiB) with 413', async () => {
    const res = await t.api('POST', '/v1/enroll', { json: { token: 'x'.repeat(64 * 1024) } });
    figures['64 KiB enroll body'] = res.status;
    expect(res.status).toBe(413);
  });

  it('cuts a package PUT that stays under the minimum throughput', async () => {
    const sha = 'a'.repeat(64);
    const head =
      `PUT /v1/studies/${study.id}/packages/${sha} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${siteKey}\r\n` +
      'Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n';
    // 100 bytes every 200 ms = 500 B/s, far under the 10 000 B/s this server asks for.
    const a = await rawRequest(port, head, {
      trickle: 'x'.repeat(100),
      everyMs: 200,
      waitMs: 5000,
    });
    figures['package PUT at 500 B/s closed after ms'] =
      a.closedAfterMs === null ? 'open' : Math.round(a.closedAfterMs);
    expect(a.status).toBe(408);
    expect(a.text).toContain('upload_too_slow');
    expect(a.closedAfterMs).not.toBeNull();
    expect(await t.api('GET', `/v1/studies/${study.id}/packages`, { key: siteKey })).toMatchObject({
      status: 200,
    });
  });

  it('closes idle connections after the connection timeout', async () => {
    const a = await rawRequest(port, '', { waitMs: IDLE_TIMEOUT_MS + 3000 });
    figures['idle connection closed after ms'] =
      a.closedAfterMs === null ? 'open' : Math.round(a.closedAfterMs);
    expect(a.closedAfterMs).not.toBeNull();
  });

  it('keeps /v1/health fast while 40 unauthenticated 1 MB nested-array bodies arrive', async () => {
    const nested = Buffer.from('['.repeat(500_000) + ']'.repeat(500_000));
    const health: number[] = [];
    const statuses: number[] = [];
    const flood = Promise.all(
      Array.from({ length: 40 }, () =>
        fetch(`${t.url}/v1/studies`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: nested,
        })
          .then((r) => statuses.push(r.status))
          .catch(() => statuses.push(0)),
      ),
    );
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await fetch(`${t.url}/v1/health`);
      health.push(performance.now() - t0);
    }
    await flood;
    figures['health p50 ms under nested-array flood'] = summarize(health).p50Ms;
    // Unauthenticated: refused before the body is parsed (a reset while sending also counts as refused).
    expect(statuses.every((s) => s === 401 || s === 0)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
  });
});

describe('connection cap (issue #14 finding 1)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      limits: { maxConnections: MAX_CONNECTIONS, connectionTimeoutMs: 10_000 },
    });
  });
  afterAll(async () => t?.close());

  it(`holds at most ${MAX_CONNECTIONS} connections when ${MAX_CONNECTIONS * 2} are opened`, async () => {
    const port = Number(new URL(t.url).port);
    const sockets = await Promise.all(
      Array.from(
        { length: MAX_CONNECTIONS * 2 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const open = await new Promise<number>((resolve, reject) =>
      t.server.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );
    for (const s of sockets) s.destroy();
    figures['connections held of 80 opened (cap 40)'] = open;
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
  });
});
