import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ChildExit = { code: number | null; signal: NodeJS.Signals | null };

/** One line a child wrote, parsed when it is a JSON object. */
export type ChildLine = {
  stream: 'stdout' | 'stderr';
  text: string;
  json: Record<string, unknown> | null;
};

export type TsChild = {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Every line so far, both streams, in arrival order. */
  readonly lines: ChildLine[];
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** Resolves with the first line (past or future) `match` accepts; rejects if the child exits first or on timeout. */
  waitForLine(
    match: (line: ChildLine) => boolean,
    opts?: { timeoutMs?: number; what?: string },
  ): Promise<ChildLine>;
  /** SIGKILL (no cleanup runs in the child) and wait until it is gone. */
  kill9(): Promise<ChildExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<ChildExit>;
  /** Last lines of output, for failure messages. */
  tail(n?: number): string;
};

const live = new Set<TsChild>();

// A test that throws must never leave a server or site process behind it.
process.once('exit', () => {
  for (const c of live) c.proc.kill('SIGKILL');
});

/**
 * Spawn `node --import tsx <script> <args>` from the repo root on the same Node binary as the
 * test (vitest's process.execPath: the Node 24 from node_modules). stdin is a pipe the fixture
 * watches: if this test process dies, the pipe closes and the child exits by itself. Every child
 * is also SIGKILLed after `maxLifetimeMs`, so nothing outlives a hung test.
 */
export function spawnTsChild(
  script: string,
  args: string[] = [],
  opts: {
    name?: string;
    env?: Record<string, string>;
    maxLifetimeMs?: number;
    /** Run under `prlimit --fsize=N`: writes past N bytes per file fail with EFBIG. */
    fsizeLimit?: number;
  } = {},
): TsChild {
  const name = opts.name ?? script.split('/').pop()!;
  const nodeArgs = ['--import', 'tsx', resolve(REPO_ROOT, script), ...args];
  const [cmd, argv] =
    opts.fsizeLimit !== undefined
      ? ['prlimit', [`--fsize=${opts.fsizeLimit}`, '--', process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const proc = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, FGL_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not spawn ${name}`);
  const lines: ChildLine[] = [];
  const waiters = new Set<(l: ChildLine) => void>();
  const onText = (stream: ChildLine['stream']) => {
    let buf = '';
    return (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let json: Record<string, unknown> | null = null;
        if (text.startsWith('{')) {
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // plain text
          }
        }
        const line = { stream, text, json };
        lines.push(line);
        for (const w of [...waiters]) w(line);
      }
    };
  };
  proc.stdout!.on('data', onText('stdout'));
  proc.stderr!.on('data', onText('stderr'));
  // The child may be gone before we write; a broken stdin pipe is expected then.
  proc.stdin!.on('error', () => undefined);

  let exitInfo: ChildExit | null = null;
  const exited = new Promise<ChildExit>((res) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(child);
      clearTimeout(lifetime);
      res(exitInfo);
    });
  });
  const lifetime = setTimeout(() => proc.kill('SIGKILL'), opts.maxLifetimeMs ?? 180_000);
  lifetime.unref();

  const tail = (n = 30) =>
    lines
      .slice(-n)
      .map((l) => `[${name} ${l.stream}] ${l.text}`)
      .join('\n');

  const child: TsChild = {
    name,
    pid: proc.pid,
    proc,
    lines,
    exited,
    tail,
    waitForLine(match, o = {}) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      const what = o.what ?? 'the expected line';
      return new Promise<ChildLine>((res, rej) => {
        const done = () => {
          waiters.delete(onLine);
          clearTimeout(timer);
        };
        const onLine = (l: ChildLine) => {
          if (!match(l)) return;
          done();
          res(l);
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`${name}: no ${what} within ${o.timeoutMs ?? 60_000} ms\n${tail()}`));
        }, o.timeoutMs ?? 60_000);
        waiters.add(onLine);
        void exited.then((e) => {
          if (!waiters.has(onLine)) return;
          done();
          rej(new Error(`${name} exited (${e.code ?? e.signal}) before ${what}\n${tail()}`));
        });
      });
    },
    async kill9() {
      if (exitInfo) return exitInfo;
      proc.kill('SIGKILL');
      return exited;
    },
    async stop(graceMs = 10_000) {
      if (exitInfo) return exitInfo;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const e = await exited;
      clearTimeout(t);
      return e;
    },
  };
  live.add(child);
  return child;
}

/** SIGKILL every child this process spawned that is still alive (afterAll / afterEach). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill9()));
}

/**
 * Poll `probe` until it returns a value other than undefined. Rejects after `timeoutMs`, or as
 * soon as `child` (when given) exits, so a crashed fixture fails fast with its output.
 */
export async function pollUntil<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs?: number; intervalMs?: number; what: string; child?: TsChild },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let exited: ChildExit | null = null;
  void opts.child?.exited.then((e) => (exited = e));
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (exited)
      throw new Error(
        `${opts.child!.name} exited (${(exited as ChildExit).code ?? (exited as ChildExit).signal}) before ${opts.what}\n${opts.child!.tail()}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${opts.what}${opts.child ? `\n${opts.child.tail()}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 10));
  }
}

/** Call in a fixture script: exit when the parent test process goes away (its stdin pipe closes). */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(70));
  process.stdin.on('close', () => process.exit(70));
  process.stdin.resume();
}

/** A fixture's machine-readable event: one JSON line on stdout with a `fault` key. */
export function emit(event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ fault: event, ...data }) + '\n');
}
