import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelVersionDir } from '../../../src/server/store/data-layout';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { pullModel } from '../../../src/site/client/pull-model';
import { ModelVerificationError } from '../../../src/core/models/verify-model-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import type { StudyManifest } from '../../../src/shared/study';
import {
  createStudy,
  issueToken,
  publishTestModel,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14, finding 2: a hostile server (loopback) that lies about sizes. The real server
 * publishes a signed model with `big.bin` of 1 024 bytes; a fake server in front of the site
 * serves its signed manifest (or a garbage signature, or a huge manifest) and streams 50 MiB for
 * big.bin. The site must spend (almost) nothing on it, refuse it as tampering without retrying,
 * and leave no staging folder.
 */

const MiB = 1024 * 1024;
const figures: Record<string, number | string> = {};

type Fake = {
  url: string;
  /** Bytes the fake server managed to write per path (what the site was made to read, at most). */
  written: Map<string, number>;
  requests: Map<string, number>;
  close(): Promise<void>;
};

async function startFake(o: {
  studyId: string;
  manifest: Buffer;
  sig: string;
  bigBytes: number;
  hugeManifestBytes?: number;
}): Promise<Fake> {
  const written = new Map<string, number>();
  const requests = new Map<string, number>();
  const count = (p: string, n: number) => written.set(p, (written.get(p) ?? 0) + n);
  const stream = (res: http.ServerResponse, p: string, total: number, fill: number) => {
    const chunk = Buffer.alloc(64 * 1024, fill);
    let sent = 0;
    const pump = () => {
      while (sent < total && !res.destroyed) {
        sent += chunk.length;
        count(p, chunk.length);
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => (sent = total));
    pump();
  };
  const server = http.createServer((req, res) => {
    const p = (req.url ?? '').replace(/^\/v1\/studies\/[^/]+\//, '');
    requests.set(p, (requests.get(p) ?? 0) + 1);
    if (p === 'models') {
      res.setHeader('content-type', 'application/json');
      return res.end(
        JSON.stringify({
          models: [
            {
              studyId: o.studyId,
              version: 1,
              roundId: 'round-1',
              manifestSha256: 'a'.repeat(64),
              publishedAt: new Date().toISOString(),
            },
          ],
        }),
      );
    }
    if (p === 'models/1/manifest.json') {
      if (o.hugeManifestBytes) return stream(res, p, o.hugeManifestBytes, 0x20);
      count(p, o.manifest.length);
      return res.end(o.manifest);
    }
    if (p === 'models/1/manifest.sig') return res.end(o.sig);
    if (p === 'models/1/files/big.bin') return stream(res, p, o.bigBytes, 0x41);
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    written,
    requests,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('model download from a lying server (issue #14 finding 2)', () => {
  let t: TestServer;
  let work: string;
  let study: StudyManifest;
  let manifest: Buffer;
  let sig: string;
  let site: { siteId: string; apiKey: string; publicKey: string; fingerprint: string };

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-attack-pull-'));
    t = await startTestServer();
    study = await createStudy(t);
    await publishTestModel(t.server, study, {
      roundId: 'round-1',
      srcDir: path.join(work, 'src'),
      files: { 'big.bin': new Uint8Array(1024) },
    });
    const dir = modelVersionDir(t.server.layout, study.id, 1);
    manifest = await fs.readFile(path.join(dir, 'manifest.json'));
    sig = await fs.readFile(path.join(dir, 'manifest.sig'), 'utf8');
    // Enroll for real (pins the real key), then point the enrollment at the fake server.
    const ledger = Ledger.open(':memory:');
    const e = await enrollSite(ledger, t.url, (await issueToken(t, study.id, 'Pull Site')).token);
    const row = ledger.enrollments.list()[0]!;
    site = {
      siteId: e.siteId,
      apiKey: Buffer.from(row.apiKey).toString('utf8'),
      publicKey: row.serverPublicKey,
      fingerprint: row.serverKeyFingerprint,
    };
    ledger.close();
  });
  afterAll(async () => {
    recordFigures('attack', '#2 model download from a lying server', figures);
    await t?.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  const siteFor = (fake: Fake): Ledger => {
    const ledger = Ledger.open(':memory:');
    ledger.enrollments.upsert({
      serverUrl: fake.url,
      studyId: study.id,
      siteId: site.siteId,
      apiKey: Buffer.from(site.apiKey),
      serverPublicKey: site.publicKey,
      serverKeyFingerprint: site.fingerprint,
    });
    return ledger;
  };

  const pullFrom = async (fake: Fake, name: string) => {
    const ledger = siteFor(fake);
    const modelsRoot = path.join(work, name);
    const rssBefore = process.memoryUsage().rss;
    const err = await pullModel(ledger, study.id, { modelsRoot }).then(
      () => null,
      (e: unknown) => e,
    );
    const rssGrowthMb = Math.round((process.memoryUsage().rss - rssBefore) / MiB);
    const left = await fs.readdir(path.join(modelsRoot, study.id)).catch(() => [] as string[]);
    const row = ledger.models.byVersion(study.id, 1);
    ledger.close();
    return { err, left, row, rssGrowthMb };
  };

  it('checks the signature before fetching any file: a garbage manifest.sig costs no file bytes', async () => {
    const fake = await startFake({
      studyId: study.id,
      manifest,
      sig: Buffer.alloc(64, 7).toString('base64'),
      bigBytes: 50 * MiB,
    });
    try {
      const r = await pullFrom(fake, 'garbage-sig');
      figures['garbage sig: file bytes served'] = fake.written.get('models/1/files/big.bin') ?? 0;
      figures['garbage sig: staging left'] = r.left.length;
      expect(r.err).toBeInstanceOf(ModelVerificationError);
      expect((r.err as ModelVerificationError).check).toBe('signature');
      expect(fake.requests.get('models/1/files/big.bin') ?? 0).toBe(0);
      expect(r.left).toEqual([]);
      expect(r.row?.verified).toBe('failed');
    } finally {
      await fake.close();
    }
  });

  it('aborts a file the moment it exceeds its signed size, as tampering, without retrying', async () => {
    const fake = await startFake({ studyId: study.id, manifest, sig, bigBytes: 50 * MiB });
    try {
      const r = await pullFrom(fake, 'oversize');
      const served = fake.written.get('models/1/files/big.bin') ?? 0;
      figures['oversize file: bytes served of 50 MiB'] = served;
      figures['oversize file: requests'] = fake.requests.get('models/1/files/big.bin') ?? 0;
      figures['oversize file: staging left'] = r.left.length;
      expect(r.err).toBeInstanceOf(ModelVerificationError);
      expect((r.err as ModelVerificationError).check).toBe('file_size');
      expect(fake.requests.get('models/1/files/big.bin')).toBe(1);
      // Socket buffers let a few MiB through before the close is seen; never the 50 MiB.
      expect(served).toBeLessThan(8 * MiB);
      expect(r.left).toEqual([]);
    } finally {
      await fake.close();
    }
  });

  it('caps the manifest at 1 MiB: a 64 MiB manifest is refused without retrying', async () => {
    const fake = await startFake({
      studyId: study.id,
      manifest,
      sig,
      bigBytes: 1024,
      hugeManifestBytes: 64 * MiB,
    });
    try {
      const r = await pullFrom(fake, 'huge-manifest');
      figures['huge manifest: bytes served of 64 MiB'] =
        fake.written.get('models/1/manifest.json') ?? 0;
      figures['huge manifest: requests'] = fake.requests.get('models/1/manifest.json') ?? 0;
      figures['huge manifest: rss growth MiB'] = r.rssGrowthMb;
      expect(r.err).toBeInstanceOf(ModelVerificationError);
      expect((r.err as ModelVerificationError).check).toBe('manifest');
      expect(fake.requests.get('models/1/manifest.json')).toBe(1);
      expect(fake.written.get('models/1/manifest.json') ?? 0).toBeLessThan(8 * MiB);
      expect(r.left).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});
