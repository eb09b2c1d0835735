// A throwaway PostgreSQL 15 cluster for store tests: Debian's binaries (`postgresql`, installed by
// .ci/run), initdb into a temp dir, one server on a free loopback port with its socket in that
// dir, fsync off (a test cluster). PostgreSQL refuses to run as root, so under root the cluster
// belongs to the `postgres` system user (runuser).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../reliability/faults/fault-harness';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export type TestPostgres = { url: string; stop(): Promise<void> };

export async function startTestPostgres(): Promise<TestPostgres> {
  if (!existsSync(path.join(BIN, 'initdb')))
    throw new Error(`${BIN}/initdb is missing: apt-get install -y postgresql (.ci/run installs it)`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args]) : run(path.join(BIN, cmd), args);
  if (asRoot) await run('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  await as('initdb', ['-D', data, '-U', 'fgl', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
  const port = await freePort();
  await as('pg_ctl', [
    '-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`,
    'start',
  ]);
  return {
    url: `postgres://fgl@127.0.0.1:${port}/postgres`,
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
