// The /v1/worker API of a server whose synthesis runs on a queue: worker keys open only these
// routes; rows are served only for packages of a synthesizing round; returned images are checked
// and stored once, with the same files as in-process synthesis.
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage } from '../../../src/shared/embedding-package';
import type { StudyManifest } from '../../../src/shared/study';
import { secretHash } from '../../../src/server/auth/secret-token';
import { createQueuedStages } from '../../../src/server/jobs/queued-round-stages';
import { modelDigest } from '../../../src/core/models/model-digest';
import { imageSeed } from '../../../src/server/synthesis/image-seed';
import { SynthesizedImageRecord } from '../../../src/server/synthesis/synthesized-image-record';
import {
  buildPackage,
  createStudy,
  enrollSite,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)('worker keys (%s store)', (engine) => {
  const W = 64;
  let t: TestServer;
  let study: StudyManifest;
  let siteKey: string;
  let workerKey: string;
  let workerId: string;
  let pkgBytes: Uint8Array;
  let sha: string;
  let roundId: string;
  let digest: string;

  async function png(w = W, h = W, value = 120): Promise<Uint8Array> {
    return new Uint8Array(
      await sharp(Buffer.alloc(w * h * 3, value), { raw: { width: w, height: h, channels: 3 } })
        .png()
        .toBuffer(),
    );
  }

  const imageUrl = (row: number, index: number, q: { modelDigest?: string; batch?: string } = {}) =>
    `/v1/worker/rounds/${roundId}/images/${sha}/${row}/${index}?batch=${q.batch ?? 'b-0'}&device=cpu&modelDigest=${q.modelDigest ?? digest}`;

  beforeAll(async () => {
    const generatorDir = path.join((await getTinyModels()).root, 'generator');
    digest = await modelDigest(generatorDir, 'generator');
    const never = async (): Promise<never> => {
      throw new Error('not run in this test');
    };
    // The queue is never contacted here: the round is moved to synthesizing by hand.
    const stages = createQueuedStages({
      queueUrl: 'redis://127.0.0.1:9',
      generatorDir,
      local: { synthesize: never, train: never },
    });
    t = await startTestServer({ ...(await stores.options(engine)), stages });
    study = await createStudy(t, {
      generator: { model: { id: 'fgl-tiny/sd' }, width: W, height: W, imagesPerRow: 2, steps: 2 },
    });
    siteKey = (await enrollSite(t, study.id, 'Site A')).apiKey;
    pkgBytes = buildPackage(study, 'site-placeholder', { n: 3 });
    // buildPackage needs the real site id in its metadata.
    const sites = await t.server.store.sites.ofStudy(study.id);
    pkgBytes = buildPackage(study, sites[0]!.id, { n: 3 });
    sha = sha256Hex(pkgBytes);
    expect(
      (
        await t.api('PUT', `/v1/studies/${study.id}/packages/${sha}`, {
          key: siteKey,
          body: pkgBytes,
        })
      ).status,
    ).toBe(201);
    const r = await t.api('POST', `/v1/studies/${study.id}/rounds`, {
      key: t.adminKey,
      json: { run: false },
    });
    roundId = (r.json as { round: { id: string } }).round.id;
    workerKey = 'fglw_test-worker-key-0123456789abcdefghijklmnop';
    workerId = 'worker-abc123';
    await t.server.store.workers.insert({
      id: workerId,
      name: 'gpu-1',
      keySha256: secretHash(workerKey),
    });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  async function toSynthesizing() {
    await t.server.store.rounds.snapshotPackages(roundId, study.id);
    await t.server.store.rounds.transition(roundId, 'collecting', 'synthesizing');
  }

  describe('worker keys', () => {
    it('open nothing but /v1/worker: studies, rounds, packages, models and enrollment answer 403', async () => {
      const probes: [string, string][] = [
        ['GET', '/v1/studies'],
        ['GET', `/v1/studies/${study.id}`],
        ['GET', `/v1/studies/${study.id}/packages`],
        ['GET', `/v1/studies/${study.id}/rounds/latest`],
        ['GET', `/v1/rounds/${roundId}`],
        ['GET', `/v1/rounds/${roundId}/workers`],
        ['GET', `/v1/studies/${study.id}/models`],
        ['POST', '/v1/enroll'],
      ];
      for (const [method, url] of probes) {
        const r = await t.api(method, url, {
          key: workerKey,
          ...(method === 'POST' ? { json: { token: 'x'.repeat(20) } } : {}),
        });
        expect([
          url,
          r.status,
          (r.json as { error?: { code: string } }).error?.code ?? r.text.slice(0, 160),
        ]).toEqual([url, 403, 'worker_key_not_allowed']);
      }
    });

    it('are the only keys the worker routes take; unknown and revoked keys are 401', async () => {
      const rows = `/v1/worker/rounds/${roundId}/packages/${sha}/rows?from=0&to=1`;
      for (const key of [siteKey, t.adminKey]) {
        const r = await t.api('GET', rows, { key });
        expect([r.status, (r.json as { error: { code: string } }).error.code]).toEqual([
          403,
          'worker_only',
        ]);
      }
      expect((await t.api('GET', rows)).status).toBe(401);
      expect(
        (await t.api('GET', rows, { key: 'fglw_not-a-key-that-exists-anywhere-at-all' })).status,
      ).toBe(401);
      const other = 'fglw_revoked-worker-key-0123456789abcdefghijkl';
      const ws = t.server.store.workers;
      await ws.insert({ id: 'worker-revoked', name: 'old', keySha256: secretHash(other) });
      expect(await ws.revoke('worker-revoked')).toBe(true);
      expect((await t.api('GET', rows, { key: other })).status).toBe(401);
    });
  });

  describe('conditioning rows and images', () => {
    it('are refused while the round is not synthesizing', async () => {
      const r = await t.api(
        'GET',
        `/v1/worker/rounds/${roundId}/packages/${sha}/rows?from=0&to=1`,
        { key: workerKey },
      );
      expect([r.status, (r.json as { error: { code: string } }).error.code]).toEqual([
        409,
        'round_not_synthesizing',
      ]);
      const p = await t.api('PUT', imageUrl(0, 0), { key: workerKey, body: await png() });
      expect(p.status).toBe(409);
    });

    it('rows [from, to) come back as the float32 conditioning of the package', async () => {
      await toSynthesizing();
      const r = await t.api(
        'GET',
        `/v1/worker/rounds/${roundId}/packages/${sha}/rows?from=1&to=3`,
        { key: workerKey },
      );
      expect(r.status, r.text).toBe(200);
      const dim = Number(r.headers.get('x-fgl-dim'));
      expect(dim).toBe(study.encoder.dim);
      const got = new Float32Array(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength / 4);
      const want = decodePackage(pkgBytes).conditioning.subarray(77 * dim, 3 * 77 * dim);
      expect(got.length).toBe(want.length);
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(
        (
          await t.api('GET', `/v1/worker/rounds/${roundId}/packages/${sha}/rows?from=0&to=4`, {
            key: workerKey,
          })
        ).status,
      ).toBe(400);
      const other = 'a'.repeat(64);
      expect(
        (
          await t.api('GET', `/v1/worker/rounds/${roundId}/packages/${other}/rows?from=0&to=1`, {
            key: workerKey,
          })
        ).status,
      ).toBe(404);
    });

    it('an image is stored with the in-process sidecar, once: a repeat (even concurrent) writes nothing', async () => {
      const body = await png();
      const first = await t.api('PUT', imageUrl(1, 1), { key: workerKey, body });
      expect(first.status, first.text).toBe(201);
      expect(first.json).toEqual({ stored: true, sha256: sha256Hex(body) });
      const dir = path.join(t.dataDir, 'rounds', roundId, 'synthetic', sha);
      const rec = SynthesizedImageRecord.parse(
        JSON.parse(await fs.readFile(path.join(dir, '1-1.json'), 'utf8')),
      );
      expect(rec).toMatchObject({
        study: study.id,
        packageSha256: sha,
        row: 1,
        index: 1,
        label: 1,
        className: study.classes[1],
        seed: imageSeed(0, sha, 1, 1),
        steps: 2,
        width: W,
        modelDigest: digest,
        device: 'cpu',
        png: { file: '1-1.png', bytes: body.length, sha256: sha256Hex(body) },
      });
      const st = await fs.stat(path.join(dir, '1-1.png'));
      // The same image again, ten times at once (a batch taken twice): nothing is rewritten.
      const again = await Promise.all(
        Array.from({ length: 10 }, async () =>
          t.api('PUT', imageUrl(1, 1, { batch: 'b-1' }), {
            key: workerKey,
            body: await png(W, W, 7),
          }),
        ),
      );
      expect(again.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(again.every((r) => (r.json as { stored: boolean }).stored === false)).toBe(true);
      const st2 = await fs.stat(path.join(dir, '1-1.png'));
      expect({ ino: st2.ino, mtimeMs: st2.mtimeMs }).toEqual({ ino: st.ino, mtimeMs: st.mtimeMs });
      expect(sha256Hex(await fs.readFile(path.join(dir, '1-1.png')))).toBe(sha256Hex(body));
      // Ten concurrent first deliveries of another image: exactly one stores it.
      const race = await Promise.all(
        Array.from({ length: 10 }, async () =>
          t.api('PUT', imageUrl(2, 0), { key: workerKey, body }),
        ),
      );
      expect(race.filter((r) => r.status === 201)).toHaveLength(1);
      expect(race.filter((r) => r.status === 200)).toHaveLength(9);

      const progress = await t.api('GET', `/v1/rounds/${roundId}/workers`, { key: t.adminKey });
      expect(progress.status).toBe(200);
      expect(progress.json).toMatchObject({
        images: 2,
        workers: [{ workerId, name: 'gpu-1', images: 2, batches: 1 }],
      });
    });

    it('refuses what is not an image of this round: wrong size, not PNG, other generator, out of range', async () => {
      const cases: [string, Uint8Array, number, string][] = [
        [imageUrl(0, 0), await png(W / 2, W), 400, 'invalid_image'],
        [imageUrl(0, 0), new TextEncoder().encode('not a png at all'), 400, 'invalid_image'],
        [imageUrl(0, 0, { modelDigest: 'b'.repeat(64) }), await png(), 409, 'generator_mismatch'],
        [imageUrl(0, 2), await png(), 400, 'image_out_of_range'],
        [imageUrl(3, 0), await png(), 400, 'image_out_of_range'],
      ];
      for (const [url, body, status, code] of cases) {
        const r = await t.api('PUT', url, { key: workerKey, body });
        expect([r.status, (r.json as { error: { code: string } }).error.code]).toEqual([
          status,
          code,
        ]);
      }
      const dir = path.join(t.dataDir, 'rounds', roundId, 'synthetic', sha);
      expect((await fs.readdir(dir)).sort()).toEqual([
        '1-1.json',
        '1-1.png',
        '2-0.json',
        '2-0.png',
      ]);
    });
  });
});
