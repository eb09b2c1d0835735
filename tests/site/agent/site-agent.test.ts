import http from 'node:http';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE_METHODS, type SiteEvent, type SiteHandlers } from '../../../src/shared/site-api';
import { CONTENT_SECURITY_POLICY } from '../../../src/main/security';
import { startSiteAgent, type SiteAgent } from '../../../src/site/agent/site-agent';

type Raw = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** A raw HTTP/1.1 request: unlike fetch it sends the path and Host exactly as given. */
function raw(
  port: number,
  o: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path,
        headers: { host: `127.0.0.1:${port}`, ...o.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const SETTINGS = {
  dataHome: '/home/site',
  modelsDir: 'tiny',
  device: 'auto',
  offline: true,
  serverUrl: null,
  siteId: null,
  serverKeyFingerprint: null,
  tinyModels: true,
} as const;

let cancelledBy: ((reason: unknown) => void) | undefined;
const cancelled = new Promise<unknown>((resolve) => (cancelledBy = resolve));
let slowStarted: (() => void) | undefined;
const slowRunning = new Promise<void>((resolve) => (slowStarted = resolve));

/** A small in-test backend: this file tests the transport, not the site pipeline. */
function testHandlers(): SiteHandlers {
  const unused = Object.fromEntries(
    SITE_METHODS.map((m) => [
      m,
      async () => {
        throw new Error(`${m} is not used by this test`);
      },
    ]),
  ) as unknown as SiteHandlers;
  return {
    ...unused,
    'settings.get': async () => ({ ...SETTINGS }),
    // Returns a value that breaks the contract: the agent must not pass it on.
    'settings.update': async () => ({ dataHome: 42 }) as never,
    'datasets.scan': async (req, ctx) => {
      ctx.emit({
        type: 'progress',
        job: 'scan',
        progress: { stage: 'scan', done: 1, total: 2, ratePerSec: 3, etaSec: 0.3 },
      });
      ctx.emit({ type: 'job-finished', job: 'scan', ok: true });
      return {
        root: req.dir,
        layout: 'folder',
        images: 2,
        classes: [{ name: 'cat', count: 2 }],
        skipped: [],
        smallClasses: [],
      };
    },
    'prepare.cancel': async () => {
      throw Object.assign(new Error('No preparation r1 in this session.'), {
        code: 'not_found',
        hint: 'Start a new preparation.',
      });
    },
    'audit.list': async (_req, ctx) => {
      slowStarted?.();
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      cancelledBy?.(ctx.signal.reason);
      return { entries: [] };
    },
  };
}

let root: string;
let agent: SiteAgent;
const logs: string[] = [];

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-agent-test-'));
  const renderer = path.join(root, 'renderer');
  await fs.mkdir(path.join(renderer, 'assets'), { recursive: true });
  await fs.writeFile(
    path.join(renderer, 'index.html'),
    '<!doctype html><title>FGL</title><script type="module" src="./assets/app.js"></script>',
  );
  await fs.writeFile(path.join(renderer, 'assets', 'app.js'), 'console.log("app");');
  await fs.writeFile(path.join(renderer, 'assets', 'notes.xyz'), 'unknown type');
  await fs.writeFile(path.join(renderer, '.env'), 'SECRET_DOTFILE');
  await fs.writeFile(path.join(root, 'secret.txt'), 'SECRET_OUTSIDE');
  await fs.symlink(path.join(root, 'secret.txt'), path.join(renderer, 'assets', 'link.txt'));
  agent = await startSiteAgent({
    handlers: testHandlers(),
    rendererDir: renderer,
    host: '127.0.0.1',
    port: 0,
    log: (l) => logs.push(l),
  });
});

afterAll(async () => {
  await agent?.close();
  await fs.rm(root, { recursive: true, force: true });
});

const call = (method: string, body: unknown, headers: Record<string, string> = {}) =>
  raw(agent.port, {
    method: 'POST',
    path: `/api/call/${method}`,
    headers: { 'content-type': 'application/json', 'x-fgl-token': agent.token, ...headers },
    body: JSON.stringify(body),
  });

describe('site agent: binding and URL', () => {
  it('listens on 127.0.0.1 and hands out a link with a 32-byte token in the fragment', () => {
    expect(agent.url).toBe(`http://127.0.0.1:${agent.port}/#token=${agent.token}`);
    expect(Buffer.from(agent.token, 'base64url')).toHaveLength(32);
  });

  it('refuses to bind anything but loopback', async () => {
    await expect(
      startSiteAgent({
        handlers: testHandlers(),
        rendererDir: root,
        host: '0.0.0.0' as '127.0.0.1',
        port: 0,
      }),
    ).rejects.toThrow(/127\.0\.0\.1 only/);
  });

  it("uses the same CSP as the Electron window and the renderer's own meta tag, which has no inline script", async () => {
    const html = await fs.readFile(
      new URL('../../../src/renderer/index.html', import.meta.url),
      'utf8',
    );
    const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html);
    expect(meta?.[1]).toBe(CONTENT_SECURITY_POLICY);
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe('');
    }
  });
});

describe('site agent: API calls', () => {
  it('answers a valid call with {ok:true,data}', async () => {
    const r = await call('settings.get', {});
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ ok: true, data: SETTINGS });
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it('requires the session token: 401 without it and with a wrong one', async () => {
    const none = await raw(agent.port, {
      method: 'POST',
      path: '/api/call/settings.get',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    const wrong = await call(
      'settings.get',
      {},
      { 'x-fgl-token': agent.token.slice(0, -1) + (agent.token.endsWith('A') ? 'B' : 'A') },
    );
    expect(wrong.status).toBe(401);
    // The token is a header credential; the query parameter is accepted only for the event stream.
    const inQuery = await raw(agent.port, {
      method: 'POST',
      path: `/api/call/settings.get?token=${agent.token}`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(inQuery.status).toBe(401);
  });

  it('refuses a foreign Host header (DNS rebinding) and a cross-origin Origin', async () => {
    const rebound = await raw(agent.port, {
      path: '/',
      headers: { host: `evil.example:${agent.port}` },
    });
    expect(rebound.status).toBe(403);
    const otherPort = await call('settings.get', {}, { host: `127.0.0.1:${agent.port + 1}` });
    expect(otherPort.status).toBe(403);
    const viaLocalhost = await call('settings.get', {}, { host: `localhost:${agent.port}` });
    expect(viaLocalhost.status).toBe(200);
    const crossOrigin = await call('settings.get', {}, { origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    const sameOrigin = await call('settings.get', {}, { origin: `http://127.0.0.1:${agent.port}` });
    expect(sameOrigin.status).toBe(200);
    expect(logs.some((l) => l.includes('evil.example'))).toBe(true);
  });

  it('answers an unknown method with 404 unknown_method', async () => {
    const r = await call('files.readAny', { path: '/etc/passwd' });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    const proto = await call('__proto__', {});
    expect(proto.status).toBe(404);
  });

  it('validates the request with the zod contract before the handler runs', async () => {
    const r = await call('datasets.scan', { dir: '', k: 0, extra: true });
    expect(r.status).toBe(400);
    const body = JSON.parse(r.body) as { ok: false; error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toMatch(/^Invalid request for datasets\.scan: /);
    expect(body.error.message).toContain('dir:');
    expect(body.error.message).toContain('k:');
    expect(body.error.message).toMatch(/extra/);
  });

  it('refuses bodies that are not JSON, or not sent as JSON', async () => {
    const notJson = await raw(agent.port, {
      method: 'POST',
      path: '/api/call/settings.get',
      headers: { 'content-type': 'application/json', 'x-fgl-token': agent.token },
      body: '{nope',
    });
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toMatchObject({ error: { code: 'invalid_json' } });
    const form = await raw(agent.port, {
      method: 'POST',
      path: '/api/call/settings.get',
      headers: { 'content-type': 'text/plain', 'x-fgl-token': agent.token },
      body: '{}',
    });
    expect(form.status).toBe(415);
    const get = await raw(agent.port, {
      path: '/api/call/settings.get',
      headers: { 'x-fgl-token': agent.token },
    });
    expect(get.status).toBe(405);
  });

  it('passes a handler error on as data with its code and hint', async () => {
    const r = await call('prepare.cancel', { runId: 'r1' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      ok: false,
      error: {
        code: 'not_found',
        message: 'No preparation r1 in this session.',
        hint: 'Start a new preparation.',
      },
    });
  });

  it('does not pass on a handler result that breaks the contract', async () => {
    const r = await call('settings.update', { offline: false });
    expect(r.status).toBe(500);
    const body = JSON.parse(r.body) as { ok: false; error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_response');
    expect(body.error.message).toContain('dataHome');
  });

  it('answers datasets.pickFolder with not_available (no native picker in a browser)', async () => {
    const r = await call('datasets.pickFolder', {});
    expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { code: 'not_available' } });
  });

  it("aborts the call's signal when the client disconnects", async () => {
    const req = http.request({
      host: '127.0.0.1',
      port: agent.port,
      method: 'POST',
      path: '/api/call/audit.list',
      headers: {
        host: `127.0.0.1:${agent.port}`,
        'content-type': 'application/json',
        'x-fgl-token': agent.token,
      },
    });
    req.on('error', () => {});
    req.end('{}');
    await slowRunning;
    req.destroy();
    const reason = await cancelled;
    expect(String((reason as Error).message)).toMatch(/disconnected/);
  });
});

describe('site agent: events', () => {
  it('streams SiteEvents over SSE to a client with the token', async () => {
    const received: SiteEvent[] = [];
    const req = http.request({
      host: '127.0.0.1',
      port: agent.port,
      path: `/api/events?token=${encodeURIComponent(agent.token)}`,
      headers: { host: `127.0.0.1:${agent.port}` },
    });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const gotThree = new Promise<void>((resolve) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n'))
            if (line.startsWith('data: ')) received.push(JSON.parse(line.slice(6)) as SiteEvent);
          if (received.length >= 3) resolve();
        }
      });
    });
    // Wait for the comment that flushes the headers, so the stream is registered before we emit.
    await new Promise((resolve) => setImmediate(resolve));
    const r = await call('datasets.scan', { dir: '/data/x' });
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, data: { root: '/data/x', images: 2 } });
    agent.emit({ type: 'backend', state: 'restarted', message: 'The site backend was restarted.' });
    await gotThree;
    req.destroy();
    expect(received).toEqual([
      {
        type: 'progress',
        job: 'scan',
        progress: { stage: 'scan', done: 1, total: 2, ratePerSec: 3, etaSec: 0.3 },
      },
      { type: 'job-finished', job: 'scan', ok: true },
      { type: 'backend', state: 'restarted', message: 'The site backend was restarted.' },
    ]);
  });

  it('refuses the event stream without the token', async () => {
    const r = await raw(agent.port, { path: '/api/events?token=wrong' });
    expect(r.status).toBe(401);
    const none = await raw(agent.port, { path: '/api/events' });
    expect(none.status).toBe(401);
  });
});

describe('site agent: static files', () => {
  it('serves index.html at / with the CSP, nosniff and no caching', async () => {
    const r = await raw(agent.port, { path: '/' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>FGL</title>');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-frame-options']).toBe('DENY');
  });

  it('serves assets with their type and the CSP', async () => {
    const r = await raw(agent.port, { path: '/assets/app.js' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('console.log("app");');
    expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(r.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });

  it('refuses directory traversal, dot-files, links out of the folder and unknown types', async () => {
    for (const p of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/.env',
      '/assets/link.txt',
      '/assets/notes.xyz',
      '/assets',
      '/index.html%00.js',
    ]) {
      const r = await raw(agent.port, { path: p });
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toContain('SECRET');
    }
  });

  it('does not serve other HTTP methods on files', async () => {
    const r = await raw(agent.port, { method: 'DELETE', path: '/index.html' });
    expect(r.status).toBe(405);
  });
});
