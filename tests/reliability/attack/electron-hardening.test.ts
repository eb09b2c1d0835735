import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FuseV1Options } from '@electron/fuses';
import { PlatformPackager } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyEncryptionKeyStore } from '../../../src/main/key-encryption-key-store';
import { createMainRouter } from '../../../src/main/main-router';
import { devRendererUrl } from '../../../src/main/security';
import type { SiteCallResult } from '../../../src/shared/site-api';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14 findings 3, 4, 5 and 10: the desktop app. Electron itself is the only thing mocked
 * (safeStorage and the native dialogs are stand-ins); the builder config is read by
 * electron-builder's own loader and turned into fuse wires by its own code.
 */

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
const figures: Record<string, number | string> = {};
afterAll(() => void recordFigures('attack', '#3 #4 #5 #10 desktop app', figures));

describe('Electron fuses in the packaged app (issue #14 finding 3)', () => {
  it('electron-builder flips RunAsNode, NODE_OPTIONS and --inspect off, ASAR integrity and ASAR-only on, file:// privileges off, cookie encryption on', async () => {
    const config = await getConfig(ROOT, path.join(ROOT, 'electron-builder.yml'), null);
    // The same validation `electron-builder` runs: a misspelt fuse would fail here.
    await validateConfiguration(config, { isEnabled: false, add: () => undefined } as never);
    expect(config.electronFuses).toBeDefined();
    const wire = await (
      PlatformPackager.prototype as unknown as {
        generateFuseConfig(f: unknown): Promise<Record<number, boolean>>;
      }
    ).generateFuseConfig(config.electronFuses);
    const expected: [FuseV1Options, boolean][] = [
      [FuseV1Options.RunAsNode, false],
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable, false],
      [FuseV1Options.EnableNodeCliInspectArguments, false],
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation, true],
      [FuseV1Options.OnlyLoadAppFromAsar, true],
      [FuseV1Options.GrantFileProtocolExtraPrivileges, false],
      [FuseV1Options.EnableCookieEncryption, true],
    ];
    figures['fuses set as required'] = expected.filter(([f, v]) => wire[f] === v).length;
    figures['fuses required'] = expected.length;
    for (const [fuse, value] of expected) expect(wire[fuse], FuseV1Options[fuse]).toBe(value);
    expect(config.asar).toBe(true);
  });
});

describe('safeStorage on Linux without a keyring (issue #14 finding 4)', () => {
  const xor = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
  const storage = (backend: string) => ({
    isEncryptionAvailable: () => true,
    getSelectedStorageBackend: () => backend,
    encryptString: (s: string) => xor(Buffer.from(s)),
    decryptString: (b: Buffer) => xor(b).toString(),
  });
  it.each(['basic_text', 'unknown'])(
    'treats the %s backend as no encryption, with a warning, and writes no key file',
    async (backend) => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-kek-'));
      const warnings: string[] = [];
      const key = new KeyEncryptionKeyStore(dir, storage(backend), (l) =>
        warnings.push(l),
      ).loadOrCreate();
      figures[`safeStorage ${backend}`] = key === null ? 'unavailable (warned)' : 'trusted';
      expect(key).toBeNull();
      expect(warnings.join(' ')).toContain(backend);
      expect(await fs.readdir(dir)).toEqual([]);
      await fs.rm(dir, { recursive: true, force: true });
    },
  );
  it('still uses a real keyring (gnome_libsecret)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-kek-'));
    expect(
      new KeyEncryptionKeyStore(dir, storage('gnome_libsecret'), () => undefined).loadOrCreate(),
    ).toHaveLength(32);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

describe('the dev renderer URL (issue #14 finding 5)', () => {
  it('is ignored by a packaged app and honoured only in development', () => {
    const env = { ELECTRON_RENDERER_URL: 'https://evil.example/' };
    figures['packaged app honours ELECTRON_RENDERER_URL'] = String(
      devRendererUrl(env, true) !== null,
    );
    expect(devRendererUrl(env, true)).toBeNull();
    expect(devRendererUrl({ ELECTRON_RENDERER_URL: 'http://localhost:5173' }, false)).toBe(
      'http://localhost:5173',
    );
    expect(devRendererUrl({}, false)).toBeNull();
  });
});

describe('what a compromised renderer can drive (issue #14 finding 10)', () => {
  const setup = async (o: { picks?: (string | null)[]; confirm?: boolean } = {}) => {
    const calls: { method: string; req: unknown }[] = [];
    const asked: string[] = [];
    const picks = [...(o.picks ?? [])];
    const router = createMainRouter({
      backend: {
        call: async (method, req): Promise<SiteCallResult> => (
          calls.push({ method, req }),
          { ok: true, data: {} }
        ),
      },
      ui: {
        pickFolder: async () => picks.shift() ?? null,
        confirmServer: async (origin) => (asked.push(origin), o.confirm ?? false),
      },
      knownServers: async () => ['https://enrolled.example.org:8787'],
    });
    return { router, calls, asked };
  };

  it('scans, prepares and evaluates only folders picked in the native dialog (or inside them)', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-picked-'));
    const picked = path.join(root, 'xray');
    await fs.mkdir(path.join(picked, 'normal'), { recursive: true });
    const { router, calls } = await setup({ picks: [picked] });
    const before = await router.call('datasets.scan', { dir: '/etc' });
    expect(before).toMatchObject({ ok: false, error: { code: 'folder_not_picked' } });
    expect(await router.call('datasets.pickFolder', {})).toEqual({
      ok: true,
      data: { path: picked },
    });
    const tries = [
      ['datasets.scan', { dir: picked }, true],
      ['datasets.scan', { dir: path.join(picked, 'normal') }, true],
      ['datasets.scan', { dir: path.join(picked, '..') }, false],
      ['datasets.scan', { dir: `${picked}-other` }, false],
      ['datasets.scan', { dir: path.join(picked, '..', '..', 'etc') }, false],
      ['prepare.start', { dataDir: os.homedir() }, false],
      ['evaluate.run', { dataDir: '/' }, false],
      ['evaluate.run', { dataDir: picked }, true],
    ] as const;
    for (const [m, req, ok] of tries)
      expect((await router.call(m, req)).ok, `${m} ${JSON.stringify(req)}`).toBe(ok);
    figures['unpicked folders refused'] = tries.filter(([, , ok]) => !ok).length + 1;
    expect(calls.map((c) => c.method).filter((m) => m !== 'datasets.pickFolder')).toEqual([
      'datasets.scan',
      'datasets.scan',
      'evaluate.run',
    ]);
    await fs.rm(root, { recursive: true, force: true });
  });

  it('asks in a native dialog before enrolling with a new server; a refusal never reaches the backend', async () => {
    const no = await setup({ confirm: false });
    const r = await no.router.call('connect.enroll', {
      serverUrl: 'https://attacker.example/',
      token: 'fgl_enroll_xxxxxxxx',
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'not_confirmed' } });
    expect(no.asked).toEqual(['https://attacker.example']);
    expect(no.calls).toEqual([]);
    figures['enroll with an unconfirmed server'] = 'refused';
    const yes = await setup({ confirm: true });
    expect(
      (
        await yes.router.call('connect.enroll', {
          serverUrl: 'https://new.example.org/',
          token: 'fgl_enroll_xxxxxxxx',
        })
      ).ok,
    ).toBe(true);
    // The enrolled server needs no new confirmation.
    expect(
      (
        await yes.router.call('connect.enroll', {
          serverUrl: 'https://enrolled.example.org:8787',
          token: 'fgl_enroll_yyyyyyyy',
        })
      ).ok,
    ).toBe(true);
    expect(yes.asked).toEqual(['https://new.example.org']);
  });
});
