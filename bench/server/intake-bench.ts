/**
 * Package intake under concurrency: N sites upload one ~1 MB package each, all at once, over
 * loopback. The server runs in a child process (this file with --serve) so the clients' CPU is
 * not counted as the server's. Uploads are raw PUTs (sha256 computed beforehand), not retried,
 * so every non-201 is an error. Afterwards the server's package list and packages folder are
 * compared with what was sent: zero lost, zero duplicated.
 * Run: npx tsx bench/server/intake-bench.ts [--uploads 200] [--rows 9] [--dim 768] [--tls]
 * Prints one JSON object. Latency = request start → response end, per upload.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encodePackage } from '../../src/shared/embedding-package';
import type { CreateStudyBody } from '../../src/shared/server-api';
import type { StudyManifest } from '../../src/shared/study';

type ServeInfo = { url: string; dataDir: string; caPem: string | null };

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Child: run the real server until stdin closes, then print its peak RSS. */
async function serve(dataDir: string, tls: boolean): Promise<void> {
  const { createServer } = await import('../../src/server/create-server');
  const server = await createServer({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    ...(tls ? { tls: {} } : {}),
    // stdout carries this child's JSON lines to the parent: logs go to stderr.
    logger: {
      level: 'warn',
      destination: { write: (line: string) => void process.stderr.write(line) },
    },
  });
  const url = await server.start();
  const info: ServeInfo = { url, dataDir, caPem: server.tls?.caCertPem ?? null };
  process.stdout.write(JSON.stringify(info) + '\n');
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  await server.close();
  process.stdout.write(
    JSON.stringify({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n',
  );
}

function request(
  info: ServeInfo,
  method: string,
  urlPath: string,
  o: { key?: string; json?: unknown; body?: Uint8Array; agent?: http.Agent } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    let body: Buffer | undefined;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = Buffer.from(JSON.stringify(o.json));
    } else if (o.body) {
      headers['content-type'] = 'application/octet-stream';
      body = Buffer.from(o.body.buffer, o.body.byteOffset, o.body.byteLength);
    }
    if (body) headers['content-length'] = String(body.length);
    const target = new URL(urlPath, info.url);
    const common = { method, headers, agent: o.agent ?? false };
    const req = info.caPem
      ? https.request(target, { ...common, ca: info.caPem })
      : http.request(target, common);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const uploads = arg('uploads', 200);
  const rows = arg('rows', 9);
  const dim = arg('dim', 768);
  const tls = flag('tls');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fgl-intake-bench-'));
  let child: ChildProcess | undefined;
  try {
    child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '--serve',
        dataDir,
        ...(tls ? ['--tls'] : []),
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error('the server child exited before listening');
    const info = JSON.parse(first.value as string) as ServeInfo;
    const adminKey = (await readFile(path.join(dataDir, 'keys', 'admin.key'), 'utf8')).trim();

    const studyBody: CreateStudyBody = {
      name: 'Intake bench',
      classes: ['a', 'b', 'c'],
      prompts: {
        templates: ['{class}, real world images, high resolution'],
        instanceTemplate: '{class}, {caption}, real world images, high resolution.',
        modes: ['class', 'instance'],
      },
      encoder: {
        id: 'bench/text-encoder',
        sha256: createHash('sha256').update('bench').digest('hex'),
        dim,
      },
      clip: { id: 'bench/clip' },
      captioner: null,
      generator: { model: { id: 'bench/sd' } },
      privacy: { k: 3, maxEpsilon: 8 },
      training: {},
    };
    const created = await request(info, 'POST', '/v1/studies', { key: adminKey, json: studyBody });
    if (created.status !== 201) throw new Error(`create study: ${created.status} ${created.text}`);
    const study = JSON.parse(created.text) as StudyManifest;

    // Setup (not timed): enroll the sites, build one package per site.
    const sites: { apiKey: string; body: Uint8Array; sha256: string }[] = [];
    for (let i = 0; i < uploads; i++) {
      const tok = await request(info, 'POST', `/v1/studies/${study.id}/enrollment-tokens`, {
        key: adminKey,
        json: { siteName: `Bench ${i}` },
      });
      const { token } = JSON.parse(tok.text) as { token: string };
      const en = await request(info, 'POST', '/v1/enroll', { json: { token } });
      const { siteId, apiKey } = JSON.parse(en.text) as { siteId: string; apiKey: string };
      const conditioning = new Float32Array(rows * 77 * dim);
      for (let j = 0; j < conditioning.length; j++) conditioning[j] = Math.sin(j * 0.37 + i) * 0.5;
      const body = encodePackage({
        metadata: {
          format: 'fgl-embedding-package',
          format_version: '1',
          study_id: study.id,
          site_id: siteId,
          encoder_id: study.encoder.id,
          encoder_sha256: study.encoder.sha256,
          prompt_mode: 'class',
          aggregation: 'class',
          k: 3,
          dp_epsilon: 4,
          dp_delta: 1e-5,
          dp_clip: 1,
          dp_sigma: 1.1,
          app_version: '0.1.0',
          created_at: new Date().toISOString(),
        },
        conditioning,
        n: rows,
        dim,
        dtype: 'F16',
        labels: Int32Array.from({ length: rows }, (_, j) => j % 3),
        counts: Int32Array.from({ length: rows }, () => 5),
      });
      sites.push({ apiKey, body, sha256: createHash('sha256').update(body).digest('hex') });
    }
    const bytesEach = sites[0]!.body.length;

    // Timed: every upload starts at once.
    const latencies: number[] = [];
    const failures: string[] = [];
    const t0 = performance.now();
    await Promise.all(
      sites.map(async (s) => {
        const start = performance.now();
        try {
          const r = await request(info, 'PUT', `/v1/studies/${study.id}/packages/${s.sha256}`, {
            key: s.apiKey,
            body: s.body,
          });
          if (r.status === 201) latencies.push(performance.now() - start);
          else failures.push(`${r.status} ${r.text.slice(0, 200)}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;

    const list = await request(info, 'GET', `/v1/studies/${study.id}/packages`, { key: adminKey });
    const stored = (JSON.parse(list.text) as { packages: { sha256: string }[] }).packages.map(
      (p) => p.sha256,
    );
    const files = (await readdir(path.join(dataDir, 'packages'))).filter((f) => !f.startsWith('.'));
    const sent = new Set(sites.map((s) => s.sha256));
    const lost = [...sent].filter((s) => !stored.includes(s)).length;
    const duplicated = stored.length - new Set(stored).size;

    child.stdin!.end();
    const last = await lines.next();
    const serverRss = last.done
      ? null
      : (JSON.parse(last.value as string) as { maxRssMb: number }).maxRssMb;
    const totalMb = (bytesEach * uploads) / 1e6;
    console.log(
      JSON.stringify(
        {
          bench: 'server package intake',
          transport: tls ? 'https (server CA), 127.0.0.1' : 'http, 127.0.0.1',
          uploads,
          concurrent: uploads,
          packageBytes: bytesEach,
          package: `${rows} rows x 77 x ${dim}, f16`,
          seconds: round(seconds, 3),
          uploadsPerSecond: round(uploads / seconds),
          mbPerSecond: round(totalMb / seconds),
          latencyMs: {
            p50: round(percentile(latencies, 50)),
            p99: round(percentile(latencies, 99)),
            max: round(Math.max(...latencies)),
          },
          created: latencies.length,
          failures: failures.length,
          failureSamples: failures.slice(0, 3),
          storedRows: stored.length,
          storedFiles: files.length,
          lost,
          duplicated,
          serverMaxRssMb: serverRss,
          machine: {
            node: process.version,
            cpus: os.availableParallelism(),
            platform: `${process.platform}-${process.arch}`,
          },
        },
        null,
        2,
      ),
    );
    if (lost !== 0 || duplicated !== 0 || failures.length !== 0 || files.length !== uploads)
      process.exitCode = 1;
  } finally {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  }
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) await serve(process.argv[serveAt + 1]!, flag('tls'));
else await main();
