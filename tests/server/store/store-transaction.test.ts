// store.transaction(async (tx) => …) on both engines: everything written through `tx` is kept on
// success and dropped when the function throws, and read-then-write transactions that run at the
// same time see each other's writes (SQLite: BEGIN IMMEDIATE on the one connection; PostgreSQL:
// the rows they read locked FOR UPDATE).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServerStore } from '../../../src/server/store/server-store';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import { getTinyModels } from '../../helpers/tiny-models';

const stores = storeFactory();
const dirs: string[] = [];
afterAll(async () => {
  await stores.stop();
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function open(engine: (typeof STORE_ENGINES)[number]): Promise<ServerStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-store-tx-'));
  dirs.push(dir);
  const { store } = await stores.options(engine);
  return ServerStore.open(store ?? path.join(dir, 'server.db'), undefined, dir);
}

describe.each(STORE_ENGINES)('store.transaction (%s store)', (engine) => {
  it('keeps what a transaction wrote, and nothing of one that threw', async () => {
    const store = await open(engine);
    try {
      const models = await describeModelsFolder((await getTinyModels()).root);
      const a = buildStudyManifest({
        name: 'Kept',
        classes: ['a', 'b'],
        models,
        k: 3,
        imagesPerRow: 1,
        steps: 2,
      });
      const b = buildStudyManifest({
        name: 'Dropped',
        classes: ['a', 'b'],
        models,
        k: 3,
        imagesPerRow: 1,
        steps: 2,
      });
      await store.transaction(async (tx) => {
        await tx.studies.insert(a);
        await tx.rounds.insert('round-kept', a.id);
      });
      await expect(
        store.transaction(async (tx) => {
          await tx.studies.insert(b);
          await tx.rounds.insert('round-dropped', b.id);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect((await store.studies.list()).map((s) => s.name)).toEqual(['Kept']);
      expect(await store.rounds.get('round-kept')).toMatchObject({
        studyId: a.id,
        state: 'collecting',
      });
      expect(await store.rounds.get('round-dropped')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('serialises read-then-write transactions: ten concurrent snapshots of one round insert once', async () => {
    const store = await open(engine);
    try {
      const models = await describeModelsFolder((await getTinyModels()).root);
      const s = buildStudyManifest({
        name: 'Snap',
        classes: ['a', 'b'],
        models,
        k: 3,
        imagesPerRow: 1,
        steps: 2,
      });
      await store.studies.insert(s);
      await store.enrollment.insertToken({
        tokenSha256: 't',
        studyId: s.id,
        siteName: 'Site',
        expiresAt: '2999-01-01T00:00:00.000Z',
      });
      const site = await store.enrollment.redeem({
        tokenSha256: 't',
        newSiteId: 'site-1',
        apiKeySha256: 'k',
      });
      expect(site).toMatchObject({ ok: true, siteId: 'site-1' });
      for (const sha of ['a'.repeat(64), 'b'.repeat(64)])
        await store.packages.insert({
          sha256: sha,
          studyId: s.id,
          siteId: 'site-1',
          bytes: 1,
          rows: 1,
          metadata: {},
          receivedAt: '2026-01-01T00:00:00.000Z',
          path: path.join(os.tmpdir(), `${sha}.safetensors`),
        });
      await store.rounds.insert('round-snap', s.id);
      const counts = await Promise.all(
        Array.from({ length: 10 }, () => store.rounds.snapshotPackages('round-snap', s.id)),
      );
      // The first inserts both packages; every other one finds them and adds nothing (no duplicate-key failure).
      expect(counts).toEqual(Array(10).fill(2));
      expect((await store.rounds.packages('round-snap')).map((p) => p.sha256)).toEqual([
        'a'.repeat(64),
        'b'.repeat(64),
      ]);
    } finally {
      await store.close();
    }
  });
});
