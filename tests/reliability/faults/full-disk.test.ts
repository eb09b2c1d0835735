// Full disk, for real: a small tmpfs filled up, so the kernel answers ENOSPC and SQLite SQLITE_FULL.
// (a) the server's data dir during package intake, (b) the site's ledger and packages folder during
// prepare. Either side must fail with a clear error that says what to do, leave nothing torn
// behind, and succeed once space is freed.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleData } from '../../../src/cli/sample-data/make-sample-data';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import { decodePackage } from '../../../src/shared/embedding-package';
import type { StudyManifest } from '../../../src/shared/study';
import { Ledger } from '../../../src/site/ledger/ledger';
import { preparePackage, type PrepareOptions } from '../../../src/site/prepare/prepare-package';
import { killAllChildren, type TsChild } from '../../helpers/child-process';
import { buildPackage, studyBody, TEST_ENCODER_SHA } from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import {
  apiClient,
  createStudyOn,
  enrollOn,
  freePort,
  integrityCheck,
  queryOnce,
  readAdminKeyFile,
  recordFault,
  sha256Hex,
  startServerChild,
} from './fault-harness';
import { SmallDisk } from './small-disk';

const SUITE = 'full-disk';
/** What any "disk full" error must say, in the kernel's or SQLite's words. */
const DISK_FULL = /no space left|disk is full|ENOSPC|SQLITE_FULL|insufficient storage|out of disk/i;

let work: string;
const disks: SmallDisk[] = [];
let server: { child: TsChild; url: string } | null = null;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fault-disk-'));
});

afterAll(async () => {
  await server?.child.stop();
  await killAllChildren();
  for (const d of disks) await d.unmount().catch(() => undefined);
  await fs.rm(work, { recursive: true, force: true });
});

describe('full disk', () => {
  it('(a) server data dir fills up during intake: a 507 with a code and hint, no torn file, the retry succeeds after freeing space', async () => {
    const disk = await SmallDisk.mount(path.join(work, 'server-disk'), 16);
    disks.push(disk);
    const dataDir = path.join(disk.dir, 'server');
    const port = await freePort();
    server = await startServerChild({ dataDir, port }, { name: 'server on tmpfs' });
    const admin = apiClient(server.url, await readAdminKeyFile(dataDir));
    const dim = 768;
    const study = await createStudyOn(
      admin,
      studyBody({ encoder: { id: 'fgl-test/encoder-768', sha256: TEST_ENCODER_SHA, dim } }),
    );
    const site = await enrollOn(server.url, admin, study.id, 'disk site');
    const pkg = buildPackage(study, site.siteId, { n: 40, dim }); // ≈ 4.7 MB
    const sha = sha256Hex(pkg);
    const put = () =>
      apiClient(server!.url, site.apiKey)('PUT', `/v1/studies/${study.id}/packages/${sha}`, pkg);

    await disk.fill(1024 * 1024);
    const refused = await put();
    const error = (
      refused.json as { error?: { code?: string; message?: string; hint?: string } } | null
    )?.error;
    // The server stays up and says what happened: soft checks, so every check below still runs.
    expect.soft(refused.status, refused.text).toBe(507);
    expect.soft(error?.code).toBe('insufficient_storage');
    expect.soft(error?.message ?? '').toMatch(DISK_FULL);
    expect.soft(error?.hint ?? '').toMatch(/space/i);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(error?.code, 'an error code').toBeTruthy();
    expect(error?.hint, 'a hint').toBeTruthy();

    // Not a crash: the process is alive and answering.
    expect(server.child.proc.exitCode).toBeNull();
    expect((await admin('GET', '/v1/health')).status).toBe(200);
    // No torn file: nothing in packages/, no row.
    const packagesDir = path.join(dataDir, 'packages');
    expect(await fs.readdir(packagesDir)).toEqual([]);
    expect(queryOnce(path.join(dataDir, 'server.db'), 'SELECT sha256 FROM packages')).toEqual([]);

    await disk.free();
    const t0 = performance.now();
    const stored = await put();
    const recoverySeconds = (performance.now() - t0) / 1000;
    expect(stored.status, stored.text).toBe(201);
    expect(await fs.readdir(packagesDir)).toEqual([`${sha}.safetensors`]);
    const bytes = await fs.readFile(path.join(packagesDir, `${sha}.safetensors`));
    expect(sha256Hex(bytes)).toBe(sha);
    expect(decodePackage(new Uint8Array(bytes)).n).toBe(40);
    await server.child.stop();
    server = null;
    expect(integrityCheck(path.join(dataDir, 'server.db'))).toEqual(['ok']);

    await recordFault({
      suite: SUITE,
      test: 'server-intake',
      fault: 'ENOSPC on the server data dir (16 MiB tmpfs, 1 MiB left) during a 4.7 MB package PUT',
      injectedAt: { freeBytes: 1024 * 1024, packageBytes: pkg.length },
      recovered: stored.status === 201,
      recoverySeconds,
      details: { status: refused.status, code: error?.code ?? null, hint: error?.hint ?? null },
    });
  });

  it('(b) site ledger and packages folder fill up during prepare: a clear error with a hint, ledger intact, no torn package, success after freeing space', async () => {
    const tiny = await getTinyModels();
    const data = await makeSampleData(path.join(work, 'data'), {
      classes: 3,
      perClass: 20,
      seed: 9,
    });
    const study: StudyManifest = buildStudyManifest({
      name: 'Full disk',
      classes: data.classes,
      models: await describeModelsFolder(tiny.root),
      k: 3,
    });
    // The ledger and the packages folder on separate small disks, to fill one at a time.
    const ledgerDisk = await SmallDisk.mount(path.join(work, 'ledger-disk'), 4);
    disks.push(ledgerDisk);
    const packagesDisk = await SmallDisk.mount(path.join(work, 'packages-disk'), 4);
    disks.push(packagesDisk);
    const ledger = Ledger.open(path.join(ledgerDisk.dir, 'ledger.sqlite'));
    const options = (outDir: string): PrepareOptions => ({
      ledger,
      dataDir: data.dir,
      study,
      siteId: 'site-fulldisk01',
      models: { clip: tiny.dirs.clip, generator: tiny.dirs.generator, captioner: null, tiny: true },
      promptMode: 'class',
      aggregation: 'cluster',
      outDir,
      device: 'cpu',
      batchSize: 8,
    });
    const outcomes: Record<string, unknown>[] = [];
    try {
      const cases = [
        {
          name: 'ledger',
          disk: ledgerDisk,
          leave: 64 * 1024,
          outDir: path.join(packagesDisk.dir, 'run-1'),
        },
        {
          name: 'packages',
          disk: packagesDisk,
          leave: 32 * 1024,
          outDir: path.join(packagesDisk.dir, 'run-2'),
        },
      ];
      for (const c of cases) {
        await c.disk.fill(c.leave);
        const err = (await preparePackage(options(c.outDir)).then(
          () => null,
          (e: unknown) => e,
        )) as (Error & { hint?: string }) | null;
        expect(err, `prepare with a full ${c.name} disk`).toBeInstanceOf(Error);
        expect(err!.message).toMatch(DISK_FULL);
        expect.soft(err!.hint ?? '', `${c.name}: the error says what to do`).toMatch(/free|space/i);
        // Nothing torn or temporary left in the packages folder; no package recorded.
        const left = await fs.readdir(c.outDir).catch(() => [] as string[]);
        expect.soft(left, `${c.name}: files left in the packages folder`).toEqual([]);
        expect(ledger.packages.list()).toEqual([]);
        // With the ledger's own disk full even "mark the run failed" cannot be written; the run must
        // then be left for the startup sweep, never reported done.
        const statusAtError = ledger.runs.list()[0]!.status;
        expect(['failed', 'running']).toContain(statusAtError);
        await c.disk.free();
        ledger.runs.failInterrupted();
        const run = ledger.runs.list()[0]!;
        expect(run.status).toBe('failed');
        expect(ledger.integrityCheck()).toEqual(['ok']);
        outcomes.push({
          disk: c.name,
          message: err!.message,
          hint: err!.hint ?? null,
          leftovers: left,
          runStatusAtError: statusAtError,
          runError: run.error,
        });
      }

      const t0 = performance.now();
      const ok = await preparePackage(options(path.join(packagesDisk.dir, 'run-3')));
      const recoverySeconds = (performance.now() - t0) / 1000;
      expect(ledger.packages.list().map((p) => p.sha256)).toEqual([ok.sha256]);
      expect((await fs.readdir(path.dirname(ok.packagePath))).sort()).toEqual([
        'package.safetensors',
        'privacy-report.json',
        'privacy-report.md',
      ]);
      expect(sha256Hex(await fs.readFile(ok.packagePath))).toBe(ok.sha256);
      expect(ledger.integrityCheck()).toEqual(['ok']);
      await recordFault({
        suite: SUITE,
        test: 'site-prepare',
        fault:
          'ENOSPC / SQLITE_FULL on the site ledger disk, then on the packages disk (4 MiB tmpfs each)',
        injectedAt: { ledgerFreeBytes: 64 * 1024, packagesFreeBytes: 32 * 1024 },
        recovered: true,
        recoverySeconds,
        details: { outcomes },
      });
    } finally {
      ledger.close();
    }
  });
});
