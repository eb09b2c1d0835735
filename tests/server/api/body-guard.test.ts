import axios from 'axios';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { installBodyGuard } from '../../../src/server/api/body-guard';

/*
 * The idle timeout closes connections of clients that go quiet; it must not close the connection
 * of a client that is waiting while the server works. Before the pause, any handler slower than
 * `connectionTimeout` (30 s by default; a real-size model's work takes minutes) answered
 * nothing: the client got "socket hang up".
 */
const IDLE_MS = 300;
const limits = { bodyTimeoutMs: 1000, minUploadBytesPerSec: 1024, uploadWindowMs: 1000, connectionTimeoutMs: IDLE_MS };
let close: (() => Promise<unknown>) | undefined;
afterEach(async () => close?.());

async function serverWithSlowRoute(workMs: number): Promise<string> {
  const app = Fastify({ connectionTimeout: IDLE_MS });
  installBodyGuard(app, limits);
  app.get('/work', async () => {
    await new Promise((r) => setTimeout(r, workMs));
    return { done: true };
  });
  app.post('/work', async (req) => {
    await new Promise((r) => setTimeout(r, workMs));
    return { got: req.body };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  close = () => app.close();
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
}

describe('idle timeout while the server works', () => {
  it('answers a request whose handler takes longer than the idle timeout (GET and JSON POST)', async () => {
    const url = await serverWithSlowRoute(IDLE_MS * 3);
    expect((await axios.get(`${url}/work`)).data).toEqual({ done: true });
    expect((await axios.post(`${url}/work`, { a: 1 })).data).toEqual({ got: { a: 1 } });
  });

  it('still closes a connection that sends nothing', async () => {
    const url = await serverWithSlowRoute(0);
    const net = await import('node:net');
    const { port } = new URL(url);
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = performance.now();
      const s = net.connect({ host: '127.0.0.1', port: Number(port) });
      s.on('close', () => resolve(performance.now() - t0));
      s.on('error', () => undefined);
    });
    expect(closedAfter).toBeGreaterThanOrEqual(IDLE_MS * 0.8);
    expect(closedAfter).toBeLessThan(IDLE_MS * 10);
  });
});
