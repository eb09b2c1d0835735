import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { RateLimitInput } from '../../../src/server/api/rate-limit';
import { readAdminKey } from '../../../src/server/auth/admin-key';
import { createServer, type FglServer } from '../../../src/server/create-server';
import type { ServerLimits } from '../../../src/server/server-config';
import type { StudyManifest } from '../../../src/shared/study';
import { studyBody } from '../../helpers/server-fixture';

export type Answer = {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: unknown;
};

export type LoopbackServer = {
  server: FglServer;
  url: string;
  dataDir: string;
  adminKey: string;
  /** The CA a client must trust (TLS servers), else null. */
  caPem: string | null;
  /** Raw request (over https trusting only the server's CA). */
  api(
    method: string,
    urlPath: string,
    o?: { key?: string; json?: unknown; body?: Uint8Array },
  ): Promise<Answer>;
  createStudy(name?: string): Promise<StudyManifest>;
  issueToken(studyId: string, siteName: string): Promise<string>;
  close(): Promise<void>;
};

/**
 * A real FGL server on 127.0.0.1 (never any other address), over HTTPS with its own CA when
 * `tls` is set. Logs are discarded unless `onLog` wants them.
 */
export async function startLoopbackServer(
  o: {
    tls?: boolean;
    hostnames?: string[];
    dataDir?: string;
    port?: number;
    rateLimit?: RateLimitInput | false;
    limits?: Partial<ServerLimits>;
    /** Every log line (JSON) at info level and above; without it logs are discarded. */
    onLog?: (line: string) => void;
  } = {},
): Promise<LoopbackServer> {
  const dataDir = o.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-transport-')));
  const server = await createServer({
    dataDir,
    host: '127.0.0.1',
    port: o.port ?? 0,
    ...(o.limits ? { limits: o.limits } : {}),
    ...(o.tls ? { tls: { hostnames: o.hostnames ?? [] } } : {}),
    ...(o.rateLimit !== undefined ? { rateLimit: o.rateLimit } : {}),
    logger: o.onLog
      ? { level: 'info', destination: { write: o.onLog } }
      : { level: 'warn', destination: { write: () => undefined } },
  });
  const url = await server.start();
  const adminKey = await readAdminKey(server.layout.adminKey);
  const caPem = server.tls?.caCertPem ?? null;
  // Keep-alive: thousands of admin calls should not each pay a TLS handshake.
  const agent = caPem
    ? new https.Agent({ ca: caPem, keepAlive: true, maxSockets: 16 })
    : new http.Agent({ keepAlive: true, maxSockets: 16 });
  const api: LoopbackServer['api'] = (method, urlPath, a = {}) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (a.key) headers.authorization = `Bearer ${a.key}`;
      let body: Buffer | undefined;
      if (a.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = Buffer.from(JSON.stringify(a.json));
      } else if (a.body !== undefined) {
        headers['content-type'] = 'application/octet-stream';
        body = Buffer.from(a.body);
      }
      if (body) headers['content-length'] = String(body.length);
      const target = new URL(urlPath, url);
      const req = (caPem ? https : http).request(target, { method, headers, agent });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    server,
    url,
    dataDir,
    adminKey,
    caPem,
    api,
    async createStudy(name = 'Transport study') {
      const r = await api('POST', '/v1/studies', { key: adminKey, json: studyBody({ name }) });
      if (r.status !== 201) throw new Error(`create study: ${r.status} ${r.text}`);
      return r.json as StudyManifest;
    },
    async issueToken(studyId, siteName) {
      const r = await api('POST', `/v1/studies/${studyId}/enrollment-tokens`, {
        key: adminKey,
        json: { siteName },
      });
      if (r.status !== 201) throw new Error(`issue token: ${r.status} ${r.text}`);
      return (r.json as { token: string }).token;
    },
    async close() {
      agent.destroy();
      await server.close();
      if (!o.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
