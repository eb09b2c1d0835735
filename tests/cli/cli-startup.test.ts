import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/registry';
import { commandLoaders } from '../../src/cli/commands/lazy-registry';
import { commandHelp, globalHelp } from '../../src/cli/help';
import { BUNDLE_DIR } from '../../src/cli/cli-bundle';
import { REPO_ROOT } from '../helpers/child-process';

const tmp = await mkdtemp(join(tmpdir(), 'fgl-startup-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** `node bin/fgl.mjs …` as a user runs it (Node 24 of the project). */
function fgl(args: string[], node = process.execPath): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [join(REPO_ROOT, 'bin', 'fgl.mjs'), ...args], { cwd: tmp, env: { ...process.env, FGL_HOME: join(tmp, 'home') } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('fgl started by another Node', () => {
  it('re-runs itself on the project’s Node 24 instead of crashing in better-sqlite3', async () => {
    // The machines this runs on have Debian's Node 20 as /usr/bin/node (the project's Node 24
    // comes from the `node` npm package). Under Node 20, opening the ledger with better-sqlite3's
    // Node 24 build ended the process with a segmentation fault (exit 139).
    const system = '/usr/bin/node';
    const version = await new Promise<string>((resolve, reject) => {
      const c = spawn(system, ['--version']);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(out.trim()));
    });
    expect(version, 'the system Node must be another major for this test to mean anything').not.toMatch(/^v24\./);
    // `site upload` opens the site ledger before it checks its options.
    const r = await fgl(['site', 'upload'], system);
    expect(r.stderr).toContain('--package is required');
    expect(r.code).toBe(2);
  }, 120_000);
});

describe('fgl start-up (issue #15 item 10)', () => {
  it('loads each command on its own: the lazy loaders name exactly the registry’s commands', async () => {
    expect(Object.keys(commandLoaders).sort()).toEqual(commands.map((c) => c.path.join(' ')).sort());
    for (const [key, load] of Object.entries(commandLoaders)) expect((await load()).path.join(' ')).toBe(key);
  }, 120_000);

  it('the bundle answers help exactly as the sources do, and runs a command that reads resources/', async () => {
    // The first start after a source change builds the bundle; this one may.
    const help = await fgl(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(globalHelp(commands));
    const stamp = await readFile(join(BUNDLE_DIR, 'stamp.json'), 'utf8');
    const scanHelp = await fgl(['site', 'scan', '--help']);
    expect(scanHelp.stdout).toBe(commandHelp(commands.find((c) => c.path.join(' ') === 'site scan')!));
    expect(await readFile(join(BUNDLE_DIR, 'stamp.json'), 'utf8')).toBe(stamp); // reused, not rebuilt
    const group = await fgl(['server']);
    expect(group.code).toBe(2);
    expect(group.stdout).toContain('server study create');

    const created = await fgl(['server', 'study', 'create', '--data-dir', join(tmp, 'srv'), '--name', 'Chest', '--classes', 'normal,pneumonia', '--vocabulary', 'radiology', '--json']);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ vocabulary: 'radiology', manifest: { prompts: { vocabulary: expect.arrayContaining(['chest x-ray']) } } });
    const bad = await fgl(['server', 'study', 'create', '--data-dir', join(tmp, 'srv'), '--name', 'x', '--classes', 'a,A']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('which are the same class');
  }, 180_000);

  it('rebuilds a bundle that does not match the sources', async () => {
    await fgl(['--help']);
    await writeFile(join(BUNDLE_DIR, 'stamp.json'), JSON.stringify({ stamp: 'stale' }));
    const r = await fgl(['--help']);
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(join(BUNDLE_DIR, 'stamp.json'), 'utf8')).stamp).not.toBe('stale');
  }, 180_000);
});
