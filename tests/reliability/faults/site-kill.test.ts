// kill -9 of the site process while it prepares a package, uploads it, and downloads a model;
// each rerun must finish the job from what the ledger and the disk hold, without duplicates.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleData } from '../../../src/cli/sample-data/make-sample-data';
import type { ProgressEvent } from '../../../src/shared/progress';
import type { RoundStatus } from '../../../src/shared/server-api';
import type { StudyManifest } from '../../../src/shared/study';
import { clientForStudy, enrollSite } from '../../../src/site/client/enroll-site';
import { pullModel } from '../../../src/site/client/pull-model';
import { resumePendingUploads } from '../../../src/site/client/upload-package';
import { ModelVerificationError } from '../../../src/core/models/verify-model-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import { preparePackage } from '../../../src/site/prepare/prepare-package';
import {
  killAllChildren,
  pollUntil,
  spawnTsChild,
  type TsChild,
} from '../../helpers/child-process';
import { getTinyModels } from '../../helpers/tiny-models';
import { shardBytes } from '../../fixtures/faults/shard-bytes';
import {
  apiClient,
  createStudyOn,
  exists,
  freePort,
  issueTokenOn,
  queryOnce,
  readAdminKeyFile,
  recordFault,
  roundRow,
  startServerChild,
  tinyStudyBody,
  treeDigest,
} from './fault-harness';
import { ThrottleProxy } from './throttle-proxy';

const SUITE = 'site-kill';
const SITE_CHILD = 'tests/fixtures/faults/site-child.ts';
const SHARD = 32 * 1024 * 1024;
const PER_CLASS = 40;

let modelsDir: string;
let work: string;
let serverDir: string;
let server: { child: TsChild; url: string };
let proxy: ThrottleProxy;
let admin: ReturnType<typeof apiClient>;
let study: StudyManifest;
let siteId: string;
let ledgerFile: string;
let ledger: Ledger;
let dataDir: string;
let images: number;
/** Set by the prepare test, used by the upload test. */
let prepared: { sha256: string; packagePath: string } | null = null;

function siteChild(args: Record<string, unknown>, name: string): TsChild {
  return spawnTsChild(SITE_CHILD, [JSON.stringify({ ledger: ledgerFile, ...args })], {
    name,
    maxLifetimeMs: 120_000,
  });
}

beforeAll(async () => {
  modelsDir = (await getTinyModels()).root;
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fault-site-'));
  serverDir = path.join(work, 'server');
  const port = await freePort();
  server = await startServerChild({ dataDir: serverDir, port, modelsDir, extraShardBytes: SHARD });
  proxy = await ThrottleProxy.start(port);
  admin = apiClient(server.url, await readAdminKeyFile(serverDir));
  const data = await makeSampleData(path.join(work, 'data'), {
    classes: 3,
    perClass: PER_CLASS,
    seed: 5,
  });
  dataDir = data.dir;
  images = data.images;
  study = await createStudyOn(
    admin,
    await tinyStudyBody(modelsDir, {
      name: 'Site kill',
      classes: data.classes,
      imagesPerRow: 2,
      steps: 2,
    }),
  );
  // The site reaches the server only through the proxy, so the test can slow its transfers down.
  ledgerFile = path.join(work, 'site', 'ledger.sqlite');
  ledger = Ledger.open(ledgerFile);
  const token = await issueTokenOn(admin, study.id, 'fault site');
  siteId = (await enrollSite(ledger, proxy.url, token)).siteId;
  const served = await clientForStudy(ledger, study.id).client.getStudy(study.id);
  await fs.writeFile(path.join(work, 'study.json'), JSON.stringify(served));
}, 120_000);

afterAll(async () => {
  ledger?.close();
  await proxy?.close();
  await server?.child.stop();
  await killAllChildren();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

describe('site killed with SIGKILL, then run again', () => {
  it('during PREPARE: the run is marked interrupted, the rerun reuses cached CLIP embeddings, the dataset is untouched', async () => {
    const datasetBefore = await treeDigest(dataDir);
    const outDir = path.join(work, 'site', 'packages', 'run-1');
    const child = siteChild(
      {
        op: 'prepare',
        dataDir,
        studyFile: path.join(work, 'study.json'),
        siteId,
        modelsDir,
        outDir,
        batchSize: 4,
      },
      'site prepare',
    );
    await child.waitForLine(
      (l) =>
        l.json?.fault === 'progress' &&
        l.json.stage === 'embed-images' &&
        Number(l.json.done) >= 16,
      { what: '16 images embedded', timeoutMs: 60_000 },
    );
    await child.kill9();

    const clipDigest = study.clip.sha256!;
    const cachedAtKill = ledger.embeddings.count(clipDigest);
    expect(cachedAtKill).toBeGreaterThanOrEqual(16);
    expect(cachedAtKill).toBeLessThan(images);
    expect(ledger.integrityCheck()).toEqual(['ok']);
    expect(ledger.runs.list()[0]!.status).toBe('running');
    // What the app does at startup: a run still 'running' belongs to a dead process.
    expect(ledger.runs.failInterrupted()).toBe(1);
    const interrupted = ledger.runs.list()[0]!;
    expect(interrupted.status).toBe('failed');
    expect(interrupted.error).toMatch(/interrupted/);
    expect(await exists(path.join(outDir, 'package.safetensors'))).toBe(false);

    const events: ProgressEvent[] = [];
    const t0 = performance.now();
    const r = await preparePackage({
      ledger,
      dataDir,
      study,
      siteId,
      models: {
        clip: path.join(modelsDir, 'clip'),
        generator: path.join(modelsDir, 'generator'),
        captioner: null,
        tiny: true,
      },
      promptMode: 'class',
      aggregation: 'cluster',
      outDir,
      device: 'cpu',
      batchSize: 4,
      onProgress: (p) => events.push(p),
    });
    const recoverySeconds = (performance.now() - t0) / 1000;
    // Only the images without a cached embedding were run through CLIP again.
    const embedded = events.filter((e) => e.stage === 'embed-images');
    expect(embedded.at(-1)!.total).toBe(images - cachedAtKill);
    expect(ledger.embeddings.count(clipDigest)).toBe(images);
    expect(ledger.runs.get(r.runId)!.status).toBe('done');
    expect(ledger.integrityCheck()).toEqual(['ok']);
    expect(await treeDigest(dataDir)).toEqual(datasetBefore);
    expect((await fs.readdir(outDir)).sort()).toEqual([
      'package.safetensors',
      'privacy-report.json',
      'privacy-report.md',
    ]);
    prepared = { sha256: r.sha256!, packagePath: r.packagePath };

    await recordFault({
      suite: SUITE,
      test: 'prepare',
      fault: 'SIGKILL site during CLIP embedding',
      injectedAt: { stage: 'embed-images', embeddingsCached: cachedAtKill, images },
      recovered: true,
      recoverySeconds,
      details: { embeddedOnRerun: images - cachedAtKill, runsMarkedInterrupted: 1 },
    });
  });

  it('during UPLOAD: the pending audit row is finished by resumePendingUploads; one package on the server, one audit row', async () => {
    expect(prepared, 'the prepare test made the package').not.toBeNull();
    const { sha256, packagePath } = prepared!;
    const bytes = (await fs.stat(packagePath)).size;
    // About two seconds on the wire, so the kill lands mid-body.
    proxy.up.bytesPerSec = Math.max(2048, Math.floor(bytes / 2));
    const child = siteChild({ op: 'upload', packagePath }, 'site upload');
    const serverPackages = path.join(serverDir, 'packages');
    const partAt = await pollUntil(
      async () => {
        for (const n of await fs.readdir(serverPackages)) {
          if (!n.endsWith('.part')) continue;
          const size = await fs.stat(path.join(serverPackages, n)).then(
            (s) => s.size,
            () => 0,
          );
          if (size > 0) return size;
        }
        return undefined;
      },
      { what: 'the upload reaching the server', timeoutMs: 30_000, intervalMs: 5, child },
    );
    await child.kill9();
    proxy.up.bytesPerSec = null;

    const pending = ledger.uploads.list();
    expect(pending.map((u) => [u.packageSha256, u.status])).toEqual([[sha256, 'pending']]);
    const serverDb = path.join(serverDir, 'server.db');
    expect(queryOnce(serverDb, 'SELECT sha256 FROM packages WHERE sha256 = ?', sha256)).toEqual([]);
    // The server drops the torn body as soon as the connection dies, without a restart.
    await pollUntil(
      async () =>
        (await fs.readdir(serverPackages)).some((n) => n.endsWith('.part')) ? undefined : true,
      { what: 'the server to delete the torn upload', timeoutMs: 10_000, intervalMs: 20 },
    );

    const t0 = performance.now();
    const resumed = await resumePendingUploads(ledger);
    const recoverySeconds = (performance.now() - t0) / 1000;
    expect(resumed.map((u) => [u.id, u.status])).toEqual([[pending[0]!.id, 'accepted']]);
    expect(queryOnce(serverDb, 'SELECT sha256, site_id FROM packages')).toEqual([
      { sha256, site_id: siteId },
    ]);
    expect(await fs.readdir(serverPackages)).toEqual([`${sha256}.safetensors`]);
    const audit = ledger.uploads.list();
    expect(audit).toHaveLength(1);
    expect(audit[0]!.status).toBe('accepted');
    expect(await resumePendingUploads(ledger)).toEqual([]);
    expect(ledger.uploads.list()).toHaveLength(1);
    expect(ledger.integrityCheck()).toEqual(['ok']);

    await recordFault({
      suite: SUITE,
      test: 'upload',
      fault: 'SIGKILL site mid package upload',
      injectedAt: { auditStatus: 'pending', packageBytes: bytes, bytesOnServerAtKill: partAt },
      recovered: true,
      recoverySeconds,
      details: { serverPackages: 1, auditRows: audit.length },
    });
  });

  it('during MODEL DOWNLOAD: the rerun resumes with Range and verifies; a leftover with wrong bytes is refused, never used', async () => {
    // A round on the uploaded package publishes v1 with a 32 MiB extra shard.
    const r = await admin('POST', `/v1/studies/${study.id}/rounds`, { run: true });
    expect(r.status, r.text).toBe(201);
    const roundId = (r.json as { round: RoundStatus }).round.id;
    const final = await pollUntil(
      () => {
        const row = roundRow(path.join(serverDir, 'server.db'), roundId);
        return row && (row.state === 'published' || row.state === 'failed') ? row : undefined;
      },
      { what: 'the round to publish', timeoutMs: 90_000, intervalMs: 50, child: server.child },
    );
    expect(final).toMatchObject({ state: 'published', model_version: 1 });

    const modelsRoot = path.join(work, 'site', 'models');
    const partialShard = path.join(modelsRoot, study.id, 'v1.partial', 'extra-shard.bin');
    const shardUrl = `/v1/studies/${study.id}/models/1/files/extra-shard.bin`;

    // 1. A leftover whose bytes are not the server's (a torn write from elsewhere): the download
    //    resumes after it, and verification refuses the result instead of using it.
    await fs.mkdir(path.dirname(partialShard), { recursive: true });
    await fs.writeFile(partialShard, Buffer.alloc(1024 * 1024, 0x5a));
    const seen = proxy.requests.length;
    const refused = await pullModel(ledger, study.id, { modelsRoot }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ModelVerificationError);
    expect((refused as ModelVerificationError).check).toBe('file_hash');
    expect(proxy.requests.slice(seen).find((q) => q.path === shardUrl)?.range).toBe(
      'bytes=1048576-',
    );
    expect(await exists(path.join(modelsRoot, study.id, 'v1'))).toBe(false);
    expect(await exists(path.dirname(partialShard))).toBe(false);
    expect(ledger.models.byVersion(study.id, 1)!.verified).toBe('failed');

    // 2. Kill the site mid-shard; its leftover is a true prefix, and the rerun fetches only the rest.
    proxy.down.bytesPerSec = 8 * 1024 * 1024;
    const child = siteChild({ op: 'pull', studyId: study.id, modelsRoot }, 'site pull');
    await pollUntil(
      async () =>
        (await fs.stat(partialShard).then(
          (s) => s.size,
          () => 0,
        )) >=
        6 * 1024 * 1024
          ? true
          : undefined,
      { what: '6 MiB of the shard downloaded', timeoutMs: 60_000, intervalMs: 5, child },
    );
    await child.kill9();
    proxy.down.bytesPerSec = null;
    const have = (await fs.stat(partialShard)).size;
    expect(have).toBeLessThan(SHARD);
    expect(await exists(path.join(modelsRoot, study.id, 'v1'))).toBe(false);
    expect((await fs.readFile(partialShard)).equals(shardBytes(have))).toBe(true);

    const before = proxy.requests.length;
    const t0 = performance.now();
    const pulled = await pullModel(ledger, study.id, { modelsRoot });
    const recoverySeconds = (performance.now() - t0) / 1000;
    expect(pulled.row.verified).toBe('verified');
    const shardGets = proxy.requests.slice(before).filter((q) => q.path === shardUrl);
    expect(shardGets.map((q) => q.range)).toEqual([`bytes=${have}-`]);
    // Only the missing tail crossed the wire (plus the response head).
    expect(shardGets[0]!.bytesToClient).toBeGreaterThanOrEqual(SHARD - have);
    expect(shardGets[0]!.bytesToClient).toBeLessThan(SHARD - have + 4096);
    const shard = await fs.readFile(path.join(modelsRoot, study.id, 'v1', 'extra-shard.bin'));
    expect(shard.equals(shardBytes(SHARD))).toBe(true);
    expect(await exists(path.join(modelsRoot, study.id, 'v1.partial'))).toBe(false);
    expect(ledger.integrityCheck()).toEqual(['ok']);

    await recordFault({
      suite: SUITE,
      test: 'download',
      fault: 'SIGKILL site mid model download (32 MiB shard)',
      injectedAt: { shardBytes: SHARD, bytesOnDiskAtKill: have },
      recovered: true,
      recoverySeconds,
      details: {
        resumedWithRange: `bytes=${have}-`,
        bytesRefetched: shardGets[0]!.bytesToClient,
        corruptLeftoverRefusedBy: (refused as ModelVerificationError).check,
      },
    });
  });
});
