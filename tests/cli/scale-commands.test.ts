// The CLI side of synthesis on a queue: what `server start --queue`, `server worker`,
// `server worker enroll` and `server round status` say when something is missing, and that an
// enrolled worker key is shown once and stored only as its sha256.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { secretHash } from '../../src/server/auth/secret-token';
import { getTinyModels } from '../helpers/tiny-models';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const tmp = await mkdtemp(join(tmpdir(), 'fgl-cli-scale-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('fgl server worker / round status / start --queue', () => {
  it('worker enroll prints a fglw_ key once and stores only its sha256', async () => {
    const dataDir = join(tmp, 'enroll');
    expect(await main(['server', 'worker', 'enroll', '--data-dir', dataDir, '--name', 'gpu-1', '--json'])).toBe(0);
    const r = JSON.parse(out) as { workerId: string; apiKey: string; name: string };
    expect(r.apiKey).toMatch(/^fglw_[A-Za-z0-9_-]{43}$/);
    const db = new Database(join(dataDir, 'server.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT id, name, key_sha256 FROM workers').all()).toEqual([
        { id: r.workerId, name: 'gpu-1', key_sha256: secretHash(r.apiKey) },
      ]);
      const dump = JSON.stringify(db.prepare('SELECT * FROM workers').all());
      expect(dump).not.toContain(r.apiKey);
    } finally {
      db.close();
    }
  });

  it('worker without a key, or with a site key, says where to get one', async () => {
    const models = (await getTinyModels()).root;
    vi.stubEnv('FGL_WORKER_KEY', '');
    const args = ['server', 'worker', '--queue', 'redis://127.0.0.1:9', '--server', 'http://127.0.0.1:9', '--models', models];
    expect(await main(args)).toBe(2);
    expect(err).toContain('no worker key');
    expect(err).toContain('fgl server worker enroll');
    vi.stubEnv('FGL_WORKER_KEY', 'fgls_a-site-key-not-a-worker-key');
    err = '';
    expect(await main(args)).toBe(2);
    expect(err).toContain('not a worker key');
  });

  it('start --queue without --models refuses before it starts anything', async () => {
    expect(await main(['server', 'start', '--data-dir', join(tmp, 'start'), '--port', '0', '--queue', 'redis://127.0.0.1:9'])).toBe(2);
    expect(err).toContain('--queue needs --models');
  });

  it('round status needs exactly one of --round / --study and says when there is no round', async () => {
    const dataDir = join(tmp, 'enroll');
    expect(await main(['server', 'round', 'status', '--data-dir', dataDir])).toBe(2);
    expect(err).toContain('exactly one of --round');
    err = '';
    expect(await main(['server', 'round', 'status', '--data-dir', dataDir, '--study', 'no-such-study'])).toBe(2);
    expect(err).toContain('has no rounds');
  });
});
