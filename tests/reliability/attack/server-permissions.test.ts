import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import {
  buildPackage,
  createStudy,
  enrollSite,
  publishTestModel,
  sha256Hex,
  startTestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14 finding 8: the server's data dir (server.db + WAL/SHM, packages, images, models) was
 * 0644 files under 0755 folders: readable by every account on the machine. Run under the usual
 * umask 022, the whole tree must end up owner-only.
 */

async function walk(dir: string): Promise<{ rel: string; mode: number; dir: boolean }[]> {
  const out: { rel: string; mode: number; dir: boolean }[] = [];
  const visit = async (d: string) => {
    const st = await fs.stat(d);
    out.push({ rel: path.relative(dir, d) || '.', mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) for (const e of await fs.readdir(d)) await visit(path.join(d, e));
  };
  await visit(dir);
  return out;
}

describe('server data is owner-only (issue #14 finding 8)', () => {
  const figures: Record<string, number | string> = {};
  afterAll(() => void recordFigures('attack', '#8 server data permissions', figures));

  it('keeps every file 0600 and every folder 0700 under umask 022', async () => {
    const previous = process.umask(0o022);
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-attack-perms-'));
    const dataDir = path.join(work, 'server-data');
    const t = await startTestServer({ dataDir });
    try {
      const study: StudyManifest = await createStudy(t);
      const site = await enrollSite(t, study.id, 'Perm Site');
      const pkg = buildPackage(study, site.siteId);
      const up = await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(pkg)}`, {
        key: site.apiKey,
        body: pkg,
      });
      expect(up.status).toBe(201);
      await publishTestModel(t.server, study, {
        roundId: 'round-perm',
        srcDir: path.join(work, 'trained'),
        files: { 'model.json': '{}', 'weights.bin': new Uint8Array(64) },
      });
      const entries = await walk(dataDir);
      const open = entries.filter((e) => (e.mode & 0o077) !== 0);
      figures.filesChecked = entries.filter((e) => !e.dir).length;
      figures.foldersChecked = entries.filter((e) => e.dir).length;
      figures.readableByOthers = open.length;
      figures.examples =
        open
          .slice(0, 4)
          .map((e) => `${e.rel} ${e.mode.toString(8)}`)
          .join(', ') || 'none';
      expect(entries.map((e) => e.rel)).toEqual(
        expect.arrayContaining(['server.db', 'server.db-wal', 'server.db-shm']),
      );
      expect(open.map((e) => `${e.rel} ${e.mode.toString(8)}`)).toEqual([]);
    } finally {
      await t.close();
      process.umask(previous);
      await fs.rm(work, { recursive: true, force: true });
    }
  });
});
