// A throwaway Redis for queue tests: the system redis-server (Debian `redis-server`, installed by
// .ci/run) on a free loopback port, no persistence, its dir a temp folder. `restart` stops it and
// starts a fresh one on the same port: everything queued is lost, as after a crash of a Redis
// without persistence, which is the worst case the server must survive.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../reliability/faults/fault-harness';

export type TestRedis = {
  url: string;
  port: number;
  /** Stop (SIGKILL) and start an empty one on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

const BINARY = '/usr/bin/redis-server';

function launch(port: number, dir: string): Promise<ChildProcess> {
  const proc = spawn(
    BINARY,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${out}`)), 15_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}) on ${port}:\n${out}`));
    });
  });
}

function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  if (!existsSync(BINARY))
    throw new Error(`${BINARY} is missing: apt-get install -y redis-server (.ci/run installs it)`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-redis-'));
  const port = await freePort();
  let proc = await launch(port, dir);
  const onExit = () => proc.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async restart() {
      await kill(proc);
      proc = await launch(port, dir);
    },
    async stop() {
      process.off('exit', onExit);
      await kill(proc);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
