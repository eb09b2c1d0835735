import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientForStudy, enrollSite } from '../../../src/site/client/enroll-site';
import { ServerError, SiteClient } from '../../../src/site/client/site-client';
import type { TlsPin } from '../../../src/site/client/tls-pinning';
import { verifyModelFolder } from '../../../src/core/models/verify-model-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import type { StudyManifest } from '../../../src/shared/study';
import { buildPackage, publishTestModel } from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';
import { type LoopbackServer, startLoopbackServer } from '../transport/tls-test-server';
import { boundedPool, summarize } from './latency-stats';
import { storeSql } from '../../helpers/store-sql';

const SITES = 500;
const CONCURRENCY = 100;
const DOWNLOADS = 100;
const MODEL_SHARD_BYTES = 512 * 1024;
const MAX_PACKAGE_BYTES = 64 * 1024;
const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

type Site = { siteId: string; apiKey: string; sha256: string; status: 'created' | 'exists' };

/**
 * Load on 127.0.0.1 only, over HTTPS with the pinned CA and the server's DEFAULT rate limits:
 * 500 sites enroll and upload one package each (100 at a time), 100 download the published
 * model at once, then one site bursts past its bucket and one upload exceeds the body limit.
 */
describe('server under load (loopback, HTTPS, default rate limits)', () => {
  let t: LoopbackServer;
  let work: string;
  let study: StudyManifest;
  let pin: TlsPin;
  const statusCounts = new Map<number, number>();

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-load-'));
    t = await startLoopbackServer({
      tls: true,
      limits: { maxPackageBytes: MAX_PACKAGE_BYTES },
      // Count every answer the server gave, from its own request log.
      onLog: (line) => {
        if (!line.includes('"request completed"')) return;
        const code = (JSON.parse(line) as { res?: { statusCode?: number } }).res?.statusCode ?? 0;
        statusCounts.set(code, (statusCounts.get(code) ?? 0) + 1);
      },
    });
    study = await t.createStudy('Load study');
    pin = { caPem: t.server.tls!.caCertPem, caFingerprint: t.server.tls!.caFingerprint };
  });
  afterAll(async () => {
    await t?.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('holds 500 concurrent enroll + upload, 100 concurrent downloads, rate and body limits', async () => {
    const started = performance.now();
    // --- the coordinator issues 500 tokens (admin key: not throttled) ---
    const tokens = await boundedPool(
      Array.from({ length: SITES }, (_, i) => i),
      20,
      (i) => t.issueToken(study.id, `Load Site ${i}`),
    );

    // --- 500 sites: pin the CA, enroll, upload one package ---
    const enrollMs: number[] = [];
    const uploadMs: number[] = [];
    const errors: string[] = [];
    const sites: (Site | null)[] = new Array<Site | null>(SITES).fill(null);
    const phase1 = performance.now();
    await boundedPool(tokens, CONCURRENCY, async (token, i) => {
      const ledger = Ledger.open(':memory:');
      try {
        const t0 = performance.now();
        const e = await enrollSite(ledger, t.url, token, {
          expectFingerprint: t.server.signingKey.fingerprint,
          expectCaFingerprint: pin.caFingerprint,
        });
        enrollMs.push(performance.now() - t0);
        const file = path.join(work, `pkg-${i}.safetensors`);
        await fs.writeFile(file, buildPackage(study, e.siteId, { seed: i }));
        const { client, enrollment } = clientForStudy(ledger, study.id);
        const t1 = performance.now();
        const up = await client.uploadPackage(study.id, file);
        uploadMs.push(performance.now() - t1);
        sites[i] = {
          siteId: e.siteId,
          apiKey: Buffer.from(enrollment.apiKey).toString('utf8'),
          sha256: up.sha256,
          status: up.status,
        };
      } catch (err) {
        errors.push(`site ${i}: ${(err as Error).message}`);
      } finally {
        ledger.close();
      }
    });
    const phase1S = (performance.now() - phase1) / 1000;
    expect(errors).toEqual([]);

    // Zero lost, zero duplicated: one row per site, one file per row, the bytes the sites sent.
    const counts = (await storeSql(t.server.store).get<{ n: number; shas: number; sitesN: number }>(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT sha256) AS shas, COUNT(DISTINCT site_id) AS sitesN FROM packages WHERE study_id = ?',
      study.id,
    ))!;
    expect(counts).toEqual({ n: SITES, shas: SITES, sitesN: SITES });
    const files = (await fs.readdir(t.server.layout.packagesDir)).filter((f) => !f.startsWith('.'));
    expect(files.length).toBe(SITES);
    const sentShas = new Set(sites.map((s) => s!.sha256));
    expect(sentShas.size).toBe(SITES);
    expect(new Set(files.map((f) => f.replace(/\.safetensors$/, '')))).toEqual(sentShas);
    expect(sites.every((s) => s!.status === 'created')).toBe(true);

    // --- publish a model, 100 sites download it at once and verify it ---
    await publishTestModel(t.server, study, {
      roundId: 'round-load-0001',
      srcDir: path.join(work, 'model-src'),
      files: {
        'model.json': JSON.stringify({ format: 'layers-model' }),
        'shards/group1-shard1of1.bin': new Uint8Array(MODEL_SHARD_BYTES).map(
          (_, i) => (i * 7) % 251,
        ),
      },
    });
    const downloadMs: number[] = [];
    let downloadedBytes = 0;
    const phase2 = performance.now();
    await boundedPool(sites.slice(0, DOWNLOADS), DOWNLOADS, async (s, i) => {
      try {
        const client = new SiteClient(t.url, s!.apiKey, undefined, pin);
        const t0 = performance.now();
        const { dir, bytes } = await client.downloadModel(
          study.id,
          1,
          path.join(work, 'dl', `site-${i}`),
          {
            trust: {
              publicKeyPem: t.server.signingKey.publicKeyPem,
              pinnedFingerprint: t.server.signingKey.fingerprint,
            },
          },
        );
        downloadMs.push(performance.now() - t0);
        await verifyModelFolder(dir, {
          publicKeyPem: t.server.signingKey.publicKeyPem,
          pinnedFingerprint: t.server.signingKey.fingerprint,
        });
        downloadedBytes += bytes;
      } catch (err) {
        errors.push(`download ${i}: ${(err as Error).message}`);
      }
    });
    const phase2S = (performance.now() - phase2) / 1000;
    expect(errors).toEqual([]);
    expect(downloadMs.length).toBe(DOWNLOADS);

    // --- one site bursts far past its bucket: 429s with Retry-After, never a 5xx ---
    const noisy = new SiteClient(t.url, sites[0]!.apiKey, undefined, pin);
    const burst = 600; // twice the default per-site burst of 300
    const b0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: burst }, () =>
        noisy.http.get('studies', { validateStatus: () => true }),
      ),
    );
    const burstS = (performance.now() - b0) / 1000;
    const ok = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 429);
    expect(ok + limited.length).toBe(burst);
    expect(limited.length).toBeGreaterThan(0);
    // At most the bucket (300, minus what the site already used) plus the refill (30/s).
    expect(ok).toBeLessThanOrEqual(300 + Math.ceil(30 * burstS) + 1);
    for (const a of limited) {
      expect(Number(a.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((a.data as { error: { code: string } }).error.code).toBe('rate_limited');
    }
    // Other sites are not affected, and the throttled site's client gets through by waiting.
    const bystander = new SiteClient(t.url, sites[1]!.apiKey, undefined, pin);
    expect((await bystander.listStudies()).studies.length).toBe(1);
    expect((await noisy.listStudies()).studies.length).toBe(1);

    // --- body limits: an oversized package is refused with 413, an oversized JSON body too ---
    const big = path.join(work, 'too-big.safetensors');
    await fs.writeFile(big, new Uint8Array(4 * MAX_PACKAGE_BYTES).fill(7));
    const tooBig = await new SiteClient(t.url, sites[2]!.apiKey, undefined, pin)
      .uploadPackage(study.id, big)
      .catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(ServerError);
    expect(tooBig).toMatchObject({ status: 413, code: 'package_too_large' });
    const hugeJson = await t.api('POST', '/v1/enroll', {
      json: { token: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(hugeJson.status).toBe(413);
    const after = (await fs.readdir(t.server.layout.packagesDir)).filter((f) => !f.startsWith('.'));
    expect(after.length).toBe(SITES);

    const server5xx = [...statusCounts].filter(([c]) => c >= 500).reduce((s, [, n]) => s + n, 0);
    expect(server5xx).toBe(0);
    const totalS = (performance.now() - started) / 1000;
    expect(totalS).toBeLessThan(120);

    const report = {
      recordedAt: new Date().toISOString(),
      transport: 'https (server CA pinned), 127.0.0.1',
      node: process.version,
      cpus: os.availableParallelism(),
      sites: SITES,
      concurrency: CONCURRENCY,
      enrollUpload: {
        seconds: round(phase1S),
        sitesPerSecond: round(SITES / phase1S),
        enroll: summarize(enrollMs),
        upload: summarize(uploadMs),
        packageBytes: (await fs.stat(path.join(work, 'pkg-0.safetensors'))).size,
      },
      downloads: {
        concurrent: DOWNLOADS,
        seconds: round(phase2S),
        mbPerSecond: round(downloadedBytes / 1e6 / phase2S),
        latency: summarize(downloadMs),
        bytesEach: downloadedBytes / DOWNLOADS,
      },
      rateLimit: { burst, ok, limited: limited.length, seconds: round(burstS) },
      bodyLimit: { packageOverLimit: 413, jsonOverLimit: hugeJson.status },
      store: { rows: counts.n, distinctSha256: counts.shas, files: files.length },
      errors: errors.length,
      serverStatusCounts: Object.fromEntries([...statusCounts].sort(([x], [y]) => x - y)),
      totalSeconds: round(totalS),
    };
    const out = path.join(ROOT, 'test-artifacts', 'reliability', 'load.json');
    await fs.mkdir(path.dirname(out), { recursive: true });
    await fs.writeFile(out, JSON.stringify(report, null, 2) + '\n');
    recordFigures('load', 'server: 500 sites enroll+upload, 100 downloads (https)', {
      sites: SITES,
      'uploads/s': report.enrollUpload.sitesPerSecond,
      'upload p50 ms': report.enrollUpload.upload.p50Ms,
      'upload p99 ms': report.enrollUpload.upload.p99Ms,
      'download MB/s': report.downloads.mbPerSecond,
      'download p99 ms': report.downloads.latency.p99Ms,
      lost: SITES - counts.n,
      duplicated: counts.n - counts.shas,
      '429s in burst': limited.length,
      '5xx': server5xx,
      errors: errors.length,
    });
  }, 150_000);
});

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
