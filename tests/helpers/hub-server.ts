import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export type HubRequest = { url: string; file: string; range: string | null; status: number };

/**
 * A real HTTP server on 127.0.0.1 that answers like the Hugging Face hub:
 * GET /<id>/resolve/<revision>/<path> → the file, with Range support and 404 for missing files.
 */
export type HubServer = {
  /** e.g. http://127.0.0.1:41234 (no trailing slash): a ModelStore remoteHost. */
  url: string;
  /** Every request served, in order. */
  requests: HubRequest[];
  /** Serve `dir` as repository `id` at `revision` (default main). */
  addRepo(id: string, dir: string, revision?: string): void;
  /** The next GET of `file` (path inside the repo) sends `afterBytes` body bytes, then closes the connection. */
  dropOnce(file: string, afterBytes: number): void;
  close(): Promise<void>;
};

async function readSlice(file: string, start: number, length: number): Promise<Buffer> {
  const fd = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fd.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fd.close();
  }
}

export async function startHubServer(): Promise<HubServer> {
  const repos = new Map<string, string>();
  const drops = new Map<string, number>();
  const requests: HubRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const m = /^\/(.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const record = (file: string, status: number) =>
      requests.push({ url, file, range: req.headers.range ?? null, status });
    const notFound = (file: string) => {
      record(file, 404);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
    };
    if (!m || req.method !== 'GET') return notFound('');
    const [, id, revision, file] = m as unknown as [string, string, string, string];
    const root = repos.get(`${id}@${revision}`);
    if (root === undefined || file.split('/').some((s) => s === '..' || s === ''))
      return notFound(file);
    const full = path.join(root, ...file.split('/'));

    void stat(full).then(
      (st) => {
        if (!st.isFile()) return notFound(file);
        const size = st.size;
        let start = 0;
        let end = size - 1;
        let status = 200;
        const range = req.headers.range;
        if (range) {
          const r = /^bytes=(\d+)-(\d*)$/.exec(range);
          if (!r || Number(r[1]) >= size) {
            record(file, 416);
            res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
            return;
          }
          start = Number(r[1]);
          end = r[2] ? Math.min(Number(r[2]), size - 1) : size - 1;
          status = 206;
        }
        record(file, status);
        const headers: http.OutgoingHttpHeaders = {
          'content-length': end - start + 1,
          'content-type': 'application/octet-stream',
          'accept-ranges': 'bytes',
        };
        if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
        res.writeHead(status, headers);

        const drop = drops.get(file);
        if (drop !== undefined && drop < end - start + 1) {
          drops.delete(file);
          // Send the head, give the client a moment to consume it, then close with the body
          // unfinished. A fetch body stream that errors drops chunks not yet read, so the client
          // may keep fewer bytes than were sent: tests read how many from the client's side.
          void readSlice(full, start, drop).then((head) =>
            res.write(head, () => setTimeout(() => res.socket?.end(), 50)),
          );
          return;
        }
        createReadStream(full, { start, end }).pipe(res);
      },
      () => notFound(file),
    );
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addRepo(id, dir, revision = 'main') {
      repos.set(`${id}@${revision}`, dir);
    },
    dropOnce(file, afterBytes) {
      drops.set(file, afterBytes);
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
