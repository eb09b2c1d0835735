// `--store postgres://…` on the `fgl server` commands: taught by --help, a non-URL refused, an
// unreachable PostgreSQL and a newer schema refused with what to do, and an admin command's
// rows landing in the PostgreSQL store (a throwaway PostgreSQL 15 cluster on loopback).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { secretHash } from '../../src/server/auth/secret-token';
import { SERVER_MIGRATIONS } from '../../src/server/store/server-migrations';
import { freePort } from '../helpers/free-port';
import { storeFactory } from '../helpers/store-engines';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const tmp = await mkdtemp(join(tmpdir(), 'fgl-cli-store-'));
const stores = storeFactory();
afterAll(async () => {
  await stores.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function query(url: string, sql: string, params: unknown[] = []): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('fgl server … --store', () => {
  it('server start --help teaches --store with a postgres:// example', async () => {
    expect(await main(['server', 'start', '--help'])).toBe(0);
    expect(out).toContain('--store');
    expect(out).toContain('fgl server start --data-dir /srv/fgl --store postgres://');
  });

  it('refuses a --store that is not a PostgreSQL URL, before starting anything', async () => {
    const args = ['server', 'start', '--data-dir', join(tmp, 'a'), '--port', '0', '--store', './server.db'];
    expect(await main(args)).toBe(2);
    expect(err).toContain('--store takes a PostgreSQL URL');
    expect(err).toContain('leave --store out');
  });

  it('says so when PostgreSQL is unreachable, and what to check', async () => {
    const url = `postgres://fgl@127.0.0.1:${await freePort()}/fgl`;
    expect(await main(['server', 'start', '--data-dir', join(tmp, 'b'), '--port', '0', '--store', url])).toBe(1);
    expect(err).toContain('cannot connect to the PostgreSQL store postgres://fgl@127.0.0.1:');
    expect(err).toContain('hint: Check that PostgreSQL is running');
  });

  it('writes an admin command’s rows to the PostgreSQL store, and refuses a newer schema', async () => {
    const url = await stores.postgresUrl();
    const dataDir = join(tmp, 'c');
    expect(await main(['server', 'worker', 'enroll', '--data-dir', dataDir, '--store', url, '--name', 'gpu-1', '--json'])).toBe(0);
    const r = JSON.parse(out) as { workerId: string; apiKey: string };
    expect(await query(url, 'SELECT id, name, key_sha256 FROM workers')).toEqual([
      { id: r.workerId, name: 'gpu-1', key_sha256: secretHash(r.apiKey) },
    ]);
    await query(url, 'UPDATE fgl_schema_version SET version = $1', [SERVER_MIGRATIONS.length + 1]);
    err = '';
    expect(await main(['server', 'worker', 'enroll', '--data-dir', dataDir, '--store', url, '--name', 'gpu-2'])).toBe(1);
    expect(err).toContain(`the PostgreSQL store is at schema version ${SERVER_MIGRATIONS.length + 1} but this fgl knows only ${SERVER_MIGRATIONS.length}`);
    expect(await query(url, 'SELECT name FROM workers')).toEqual([{ name: 'gpu-1' }]);
  });
});
