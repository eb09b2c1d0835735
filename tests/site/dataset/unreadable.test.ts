import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScanResult } from '../../../src/site/dataset/scan-result';
import { buildPermissionDataset, treeFingerprint } from '../../helpers/broken-images';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../../..');
const NOBODY = 65534;

/*
 * EACCES is real only for a process that lacks permission. These tests run as root in CI, and
 * root ignores file modes, so a chmod 000 file would simply be read. Instead of skipping, the
 * scan runs in a child process: as root we start it with uid/gid 65534 (nobody), where the
 * kernel denies access exactly as for a normal user; as a non-root user it runs as that user.
 */
describe('unreadable files and folders (real EACCES)', () => {
  let ds: Awaited<ReturnType<typeof buildPermissionDataset>>;
  beforeAll(async () => {
    ds = await buildPermissionDataset();
  });
  afterAll(async () => {
    await ds.cleanup();
  });

  it('skips a mode-000 file and folder as unreadable and still scans the rest', async () => {
    const before = await treeFingerprint(ds.base);
    const asRoot = process.getuid?.() === 0;
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(repo, 'tests/site/dataset/scan-as-child.ts'), ds.root],
      {
        cwd: repo,
        ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
        timeout: 45_000,
      },
    );
    const { uid, result, lockedRoot } = JSON.parse(stdout) as {
      uid: number;
      result: ScanResult;
      lockedRoot: { name: string; message: string; hint: string } | null;
    };
    expect(uid).not.toBe(0);
    expect(result.usable.map((u) => u.path)).toEqual(['ok/good.png']);
    expect(result.skipped.map((s) => [s.path, s.reason])).toEqual([
      ['locked/', 'unreadable'],
      ['ok/secret.png', 'unreadable'],
    ]);
    expect(result.skipped[1]!.detail).toMatch(/EACCES.*read permission/);
    expect(result.classes).toEqual([
      { name: 'locked', count: 0 },
      { name: 'ok', count: 1 },
    ]);
    expect(lockedRoot).toMatchObject({
      name: 'DatasetError',
      message: expect.stringContaining('EACCES'),
      hint: expect.stringContaining('read permission'),
    });
    expect(await treeFingerprint(ds.base)).toBe(before);
  });
});
