import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ensureAdminKey } from '../../../src/server/auth/admin-key';
import {
  ensureSigningKey,
  publicKeyFingerprint,
} from '../../../src/server/auth/server-signing-key';
import { groupFingerprint as displayFingerprint } from '../../../src/shared/fingerprint';
import { dataLayout } from '../../../src/server/store/data-layout';
import { writeFileDurable } from '../../../src/core/fs/durable-file';
import { SERVER_MIGRATIONS as MIGRATIONS } from '../../../src/server/store/server-migrations';
import { ServerStore } from '../../../src/server/store/server-store';
import {
  buildPackage,
  createStudy,
  enrollSite,
  sha256Hex,
  startTestServer,
} from '../../helpers/server-fixture';
import { storeSql } from '../../helpers/store-sql';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

const dirs: string[] = [];
async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-store-test-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

describe('server data dir', () => {
  it('creates the admin key and the Ed25519 key with mode 0600, and reuses them', async () => {
    const layout = dataLayout(await tmp());
    const a1 = await ensureAdminKey(layout.adminKey);
    const k1 = await ensureSigningKey(layout.signingKey);
    expect(a1.created).toBe(true);
    expect(k1.created).toBe(true);
    expect((await fs.stat(layout.adminKey)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(layout.signingKey)).mode & 0o777).toBe(0o600);
    expect(k1.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(k1.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyFingerprint(k1.publicKeyPem)).toBe(k1.fingerprint);
    expect(displayFingerprint(k1.fingerprint).split(' ')).toHaveLength(16);

    const a2 = await ensureAdminKey(layout.adminKey);
    const k2 = await ensureSigningKey(layout.signingKey);
    expect(a2).toEqual({ sha256: a1.sha256, created: false });
    expect(k2.fingerprint).toBe(k1.fingerprint);
    expect(k2.created).toBe(false);
  });

  it('writes files durably: no temp file is left and the content is replaced whole', async () => {
    const dir = await tmp();
    const f = path.join(dir, 'sub', 'a.json');
    await writeFileDurable(f, '{"v":1}');
    await writeFileDurable(f, '{"v":2}');
    expect(await fs.readFile(f, 'utf8')).toBe('{"v":2}');
    expect(await fs.readdir(path.dirname(f))).toEqual(['a.json']);
  });

  it('runs the numbered migrations once, in WAL mode, and refuses a newer schema', async () => {
    const db = path.join(await tmp(), 'server.db');
    const s1 = await ServerStore.open(db);
    const sql = storeSql(s1);
    expect(await sql.pragma('journal_mode')).toBe('wal');
    expect(await sql.pragma('user_version')).toBe(MIGRATIONS.length);
    const tables = (
      await sql.all<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      )
    ).map((r) => r.name);
    expect(tables).toEqual([
      'api_keys',
      'enrollment_tokens',
      'model_evaluations',
      'models',
      'packages',
      'round_packages',
      'round_stages',
      'rounds',
      'site_studies',
      'sites',
      'studies',
      'synthesis_receipts',
      'workers',
    ]);
    await sql.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    await s1.close();
    await expect(ServerStore.open(db)).rejects.toThrow(/schema version/);
  });

  it.each(STORE_ENGINES)(
    'keeps studies, sites, keys and packages across a restart, even after the data dir moved (%s store)',
    async (engine) => {
      const dataDir = await tmp();
      const store = await stores.options(engine);
      const t1 = await startTestServer({ ...store, dataDir });
      const study = await createStudy(t1);
      const site = await enrollSite(t1, study.id, 'Persistent');
      const bytes = buildPackage(study, site.siteId);
      const sha = sha256Hex(bytes);
      expect(
        (
          await t1.api('PUT', `/v1/studies/${study.id}/packages/${sha}`, {
            key: site.apiKey,
            body: bytes,
          })
        ).status,
      ).toBe(201);
      const fp = t1.server.signingKey.fingerprint;
      await t1.close();

      // Rows hold paths relative to the data dir, so the whole dir can be moved or restored elsewhere.
      const moved = `${dataDir}-moved`;
      await fs.rename(dataDir, moved);
      dirs.push(moved);
      const t2 = await startTestServer({ ...store, dataDir: moved });
      try {
        expect(t2.adminKey).toBe(t1.adminKey);
        expect(t2.server.signingKey.fingerprint).toBe(fp);
        const list = await t2.api('GET', `/v1/studies/${study.id}/packages`, { key: site.apiKey });
        expect(list.status).toBe(200);
        expect(
          (list.json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256),
        ).toEqual([sha]);
        const stored = (await t2.server.store.packages.get(sha))!;
        expect(stored.path.startsWith(moved)).toBe(true);
        expect(sha256Hex(await fs.readFile(stored.path))).toBe(sha);
      } finally {
        await t2.close();
      }
    },
  );

  it('removes leftover partial uploads at start', async () => {
    const dataDir = await tmp();
    const layout = dataLayout(dataDir);
    await fs.mkdir(layout.packagesDir, { recursive: true });
    await fs.writeFile(path.join(layout.packagesDir, '.incoming.abc123.part'), 'half an upload');
    const t = await startTestServer({ dataDir });
    try {
      expect(await fs.readdir(layout.packagesDir)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
