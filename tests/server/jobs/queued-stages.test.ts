// Queued synthesis in one process (server + worker over loopback, a real Redis): a worker whose
// generator differs from the server's refuses every batch at once (no retries), and the round
// fails with a message that says what to do. The happy path with worker processes and faults is
// tests/reliability/faults/queue-workers.test.ts.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretHash } from '../../../src/server/auth/secret-token';
import { createDiffusionStages } from '../../../src/server/jobs/diffusion-round-stages';
import { createQueuedStages } from '../../../src/server/jobs/queued-round-stages';
import {
  startSynthesisWorker,
  type RunningWorker,
} from '../../../src/server/worker/synthesis-worker';
import { tinyStudyBody } from '../../reliability/faults/fault-harness';
import { startTestRedis, type TestRedis } from '../../helpers/redis-server';
import {
  buildPackage,
  enrollSite,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)('queued synthesis (%s store)', (engine) => {
  let redis: TestRedis;
  let t: TestServer;
  let worker: RunningWorker | null = null;
  let otherGenerator: string;
  let modelsDir: string;

  beforeAll(async () => {
    modelsDir = (await getTinyModels()).root;
    redis = await startTestRedis();
    const generatorDir = path.join(modelsDir, 'generator');
    const local = createDiffusionStages({
      generatorDir,
      clipDir: path.join(modelsDir, 'clip'),
      device: 'cpu',
    });
    t = await startTestServer({
      ...(await stores.options(engine)),
      stages: createQueuedStages({ queueUrl: redis.url, generatorDir, local, checkMs: 100 }),
    });
    // The same weights with one byte more in model_index.json: another generator digest.
    otherGenerator = path.join(
      await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-other-gen-')),
      'generator',
    );
    await fs.cp(generatorDir, otherGenerator, { recursive: true });
    await fs.appendFile(path.join(otherGenerator, 'model_index.json'), '\n');
  }, 60_000);

  afterAll(async () => {
    await worker?.close(true);
    await t?.close();
    await redis?.stop();
    if (otherGenerator) await fs.rm(path.dirname(otherGenerator), { recursive: true, force: true });
  });

  describe('queued synthesis', () => {
    it('fails the round at once, with the reason, when a worker has another generator', async () => {
      const created = await t.api('POST', '/v1/studies', {
        key: t.adminKey,
        json: await tinyStudyBody(modelsDir, {
          name: 'Wrong generator',
          imagesPerRow: 2,
          steps: 2,
        }),
      });
      expect(created.status, created.text).toBe(201);
      const study = created.json as Parameters<typeof buildPackage>[0];
      const site = await enrollSite(t, study.id, 'Site');
      const pkg = buildPackage(study, site.siteId, {
        n: 3,
        metadata: { dp_epsilon: null, dp_delta: null, dp_clip: null, dp_sigma: null },
      });
      expect(
        (
          await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(pkg)}`, {
            key: site.apiKey,
            body: pkg,
          })
        ).status,
      ).toBe(201);
      const key = 'fglw_wrong-generator-worker-0123456789abcdefghij';
      await t.server.store.workers.insert({
        id: 'worker-wrong',
        name: 'wrong',
        keySha256: secretHash(key),
      });
      worker = await startSynthesisWorker({
        queueUrl: redis.url,
        serverUrl: t.url,
        apiKey: key,
        generatorDir: otherGenerator,
        device: 'cpu',
        log: pino({ level: 'silent' }),
      });
      const r = await t.api('POST', `/v1/studies/${study.id}/rounds`, {
        key: t.adminKey,
        json: { run: true },
      });
      const roundId = (r.json as { round: { id: string } }).round.id;
      const final = await t.server.runner.run(roundId);
      expect(final.state).toBe('failed');
      expect(final.error).toMatch(
        /synthesizing: synthesis batch .* failed after 1 attempt\(s\): this worker's generator .* is not the server's .*models folder/,
      );
      expect(worker.totals).toEqual({ batches: 0, stored: 0, repeated: 0, dropped: 0 });
      expect(await t.server.store.workers.receiptCount(roundId)).toBe(0);
    }, 60_000);
  });
});
