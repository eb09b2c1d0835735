import { createHash, createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelManifest } from '../../../src/shared/model-manifest';
import type { StudyManifest } from '../../../src/shared/study';
import { publishModel, type TrainedModelInfo } from '../../../src/server/publish/publish-model';
import {
  verifyModelFolder,
  ModelVerificationError,
} from '../../../src/core/models/verify-model-folder';
import {
  createStudy,
  enrollSite,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)(
  'publishing a signed model and downloading it (%s store)',
  (engine) => {
    const trained: TrainedModelInfo = {
      kind: 'probe',
      preprocessing: { input: 'clip-image-embeds', normalize: true },
      backbone: { id: 'fgl-tiny/clip', revision: 'main' },
      training: {
        kind: 'probe',
        epochs: 3,
        batchSize: 8,
        learningRate: 0.01,
        validationSplit: 0.2,
        patience: 2,
        seed: 0,
        backend: 'cpu',
        samples: 12,
      },
      metrics: { valAccuracy: 0.5, valLoss: 1.1, valSamples: 3, epochs: 3 },
    };

    async function writeModelDir(dir: string, weights: Uint8Array): Promise<void> {
      await fs.mkdir(path.join(dir, 'shards'), { recursive: true });
      await fs.writeFile(
        path.join(dir, 'model.json'),
        JSON.stringify({ format: 'layers-model', weightsManifest: [] }),
      );
      await fs.writeFile(path.join(dir, 'shards', 'group1-shard1of1.bin'), weights);
    }

    describe('publishing a signed model and downloading it', () => {
      let t: TestServer;
      let study: StudyManifest;
      let site: {
        siteId: string;
        apiKey: string;
        serverPublicKey: string;
        serverKeyFingerprint: string;
      };
      let other: { apiKey: string };
      let srcDir: string;
      const weights = new Uint8Array(10_000).map((_, i) => (i * 31) % 251);

      beforeAll(async () => {
        t = await startTestServer(await stores.options(engine));
        study = await createStudy(t);
        site = await enrollSite(t, study.id, 'Downloader');
        const otherStudy = await createStudy(t, { name: 'Elsewhere' });
        other = await enrollSite(t, otherStudy.id, 'Outsider');
        srcDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-model-src-'));
        await writeModelDir(srcDir, weights);
        await t.server.store.rounds.insert('round-test-0001', study.id);
        await t.server.store.rounds.insert('round-test-0002', study.id);
      });
      afterAll(async () => {
        await t.close();
        await fs.rm(srcDir, { recursive: true, force: true });
      });

      const publish = (roundId: string) =>
        publishModel({
          store: t.server.store,
          clock: t.server.clock,
          layout: t.server.layout,
          signingKey: t.server.signingKey,
          study,
          roundId,
          sourceDir: srcDir,
          model: trained,
        });

      it('publishes monotonic versions whose manifest signature verifies with the fingerprint-pinned key', async () => {
        const v1 = await publish('round-test-0001');
        const v2 = await publish('round-test-0002');
        expect([v1.version, v2.version]).toEqual([1, 2]);

        const list = await t.api('GET', `/v1/studies/${study.id}/models`, { key: site.apiKey });
        expect(
          (list.json as { models: { version: number }[] }).models.map((m) => m.version),
        ).toEqual([1, 2]);

        const manRes = await t.api('GET', `/v1/studies/${study.id}/models/2/manifest.json`, {
          key: site.apiKey,
        });
        const sigRes = await t.api('GET', `/v1/studies/${study.id}/models/2/manifest.sig`, {
          key: site.apiKey,
        });
        expect(manRes.status).toBe(200);
        expect(sigRes.status).toBe(200);

        // What a site does: pin the key by fingerprint, verify the exact downloaded bytes.
        const key = createPublicKey(site.serverPublicKey);
        const fp = createHash('sha256')
          .update(key.export({ type: 'spki', format: 'der' }))
          .digest('hex');
        expect(fp).toBe(site.serverKeyFingerprint);
        const sig = Buffer.from(sigRes.text.trim(), 'base64');
        expect(verify(null, manRes.bytes, key, sig)).toBe(true);
        // One flipped byte must fail.
        const tampered = Uint8Array.from(manRes.bytes);
        tampered[10] = tampered[10]! ^ 1;
        expect(verify(null, tampered, key, sig)).toBe(false);

        const manifest = ModelManifest.parse(JSON.parse(manRes.text));
        expect(manifest).toMatchObject({
          studyId: study.id,
          version: 2,
          roundId: 'round-test-0002',
          classes: study.classes,
        });
        expect(manifest.files.map((f) => f.path)).toEqual([
          'model.json',
          'shards/group1-shard1of1.bin',
        ]);
        expect(createHash('sha256').update(manRes.bytes).digest('hex')).toBe(v2.manifestSha256);

        await expect(
          verifyModelFolder(v2.dir, {
            publicKeyPem: site.serverPublicKey,
            pinnedFingerprint: site.serverKeyFingerprint,
          }),
        ).resolves.toMatchObject({ version: 2 });
      });

      it('serves files whole (200), by range (206) and refuses ranges past the end (416)', async () => {
        const base = `/v1/studies/${study.id}/models/1/files/shards/group1-shard1of1.bin`;
        const sha = createHash('sha256').update(weights).digest('hex');
        const full = await t.api('GET', base, { key: site.apiKey });
        expect(full.status).toBe(200);
        expect(full.headers.get('accept-ranges')).toBe('bytes');
        expect(full.headers.get('content-length')).toBe(String(weights.length));
        expect(full.headers.get('etag')).toBe(`"${sha}"`);
        expect(Buffer.from(full.bytes).equals(Buffer.from(weights))).toBe(true);

        const part = await t.api('GET', base, {
          key: site.apiKey,
          headers: { range: 'bytes=100-199' },
        });
        expect(part.status).toBe(206);
        expect(part.headers.get('content-range')).toBe(`bytes 100-199/${weights.length}`);
        expect(part.headers.get('content-length')).toBe('100');
        expect(Buffer.from(part.bytes).equals(Buffer.from(weights.subarray(100, 200)))).toBe(true);

        const tail = await t.api('GET', base, {
          key: site.apiKey,
          headers: { range: 'bytes=9990-' },
        });
        expect(tail.status).toBe(206);
        expect(Buffer.from(tail.bytes).equals(Buffer.from(weights.subarray(9990)))).toBe(true);

        const suffix = await t.api('GET', base, {
          key: site.apiKey,
          headers: { range: 'bytes=-5' },
        });
        expect(
          Buffer.from(suffix.bytes).equals(Buffer.from(weights.subarray(weights.length - 5))),
        ).toBe(true);

        const past = await t.api('GET', base, {
          key: site.apiKey,
          headers: { range: `bytes=${weights.length}-` },
        });
        expect(past.status).toBe(416);
        expect(past.headers.get('content-range')).toBe(`bytes */${weights.length}`);
        expect(past.json).toMatchObject({ error: { code: 'range_not_satisfiable' } });

        // A stale If-Range gets the whole file rather than a mismatched piece.
        const stale = await t.api('GET', base, {
          key: site.apiKey,
          headers: { range: 'bytes=0-9', 'if-range': '"deadbeef"' },
        });
        expect(stale.status).toBe(200);
        expect(stale.bytes.length).toBe(weights.length);
      });

      it('serves only files listed in the manifest and only to enrolled sites', async () => {
        const notListed = await t.api(
          'GET',
          `/v1/studies/${study.id}/models/1/files/manifest.sig`,
          {
            key: site.apiKey,
          },
        );
        expect(notListed.status).toBe(404);
        const traversal = await t.api(
          'GET',
          `/v1/studies/${study.id}/models/1/files/..%2F..%2Fkeys%2Fadmin.key`,
          { key: site.apiKey },
        );
        expect([400, 404]).toContain(traversal.status);
        expect(traversal.text).not.toContain('fgl_admin_');
        const outsider = await t.api('GET', `/v1/studies/${study.id}/models/1/files/model.json`, {
          key: other.apiKey,
        });
        expect(outsider.status).toBe(404);
        const noVersion = await t.api('GET', `/v1/studies/${study.id}/models/9/manifest.json`, {
          key: site.apiKey,
        });
        expect(noVersion.status).toBe(404);
        expect(noVersion.json).toMatchObject({ error: { code: 'model_not_found' } });
      });

      it('the self-check (the same verifyModelFolder sites run) catches a tampered file, a foreign key and a symlink out', async () => {
        const m = (await t.server.store.models.get(study.id, 1))!;
        const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-model-copy-'));
        const trust = {
          publicKeyPem: site.serverPublicKey,
          pinnedFingerprint: site.serverKeyFingerprint,
        };
        try {
          await fs.cp(m.dir, copy, { recursive: true });
          await expect(verifyModelFolder(copy, trust)).resolves.toBeDefined();
          await expect(
            verifyModelFolder(copy, { ...trust, pinnedFingerprint: 'a'.repeat(64) }),
          ).rejects.toMatchObject({ check: 'key_pin' });
          await expect(verifyModelFolder(copy, { ...trust, minVersion: 2 })).rejects.toMatchObject({
            check: 'downgrade',
          });
          const weights = path.join(copy, 'shards', 'group1-shard1of1.bin');
          const outside = path.join(os.tmpdir(), `fgl-outside-${process.pid}.bin`);
          await fs.copyFile(weights, outside);
          await fs.rm(weights);
          await fs.symlink(outside, weights);
          await expect(verifyModelFolder(copy, trust)).rejects.toMatchObject({ check: 'path' });
          await fs.rm(weights);
          await fs.rename(outside, weights);
          await fs.appendFile(path.join(copy, 'model.json'), ' ');
          const err = await verifyModelFolder(copy, trust).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ModelVerificationError);
          expect((err as ModelVerificationError).check).toBe('file_size');
        } finally {
          await fs.rm(copy, { recursive: true, force: true });
        }
      });
    });
  },
);
