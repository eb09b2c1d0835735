import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../repo-root';
import { PAPER_SPLITS, type PaperResult, type Split } from './paper-experiment';

/**
 * `--split` values: a label as the table prints it (β=0.01, IID), a bare β (0.01), beta=0.01, or
 * iid. Returns the splits in the paper's order, each once.
 */
export function parseSplits(text: string): Split[] {
  const wanted = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (wanted.length === 0) throw new Error('--split needs at least one split, e.g. 0.01,iid.');
  const picked = new Set<Split>();
  for (const w of wanted) {
    const bare = w.replace(/^(β|beta)\s*=\s*/i, '');
    const split = PAPER_SPLITS.find((s) =>
      Number.isFinite(s.beta) ? Number(bare) === s.beta : bare.toLowerCase() === 'iid',
    );
    if (!split)
      throw new Error(
        `"${w}" is not one of the paper's splits; use ${PAPER_SPLITS.map((s) => s.label).join(', ')} (or 0.01, 0.1, 0.5, iid).`,
      );
    picked.add(split);
  }
  return PAPER_SPLITS.filter((s) => picked.has(s));
}

/** The CLI entry a child runs (a checkout or an installed package; not inside the packaged app). */
export const CLI_ENTRY = join(REPO_ROOT, 'bin', 'fgl.mjs');

export function canRunInProcesses(): boolean {
  return existsSync(CLI_ENTRY);
}

export type ParallelOptions = {
  splits: readonly Split[];
  jobs: number;
  /** The command's own arguments for one split, without --split, --jobs, --out and --json. */
  childArgs: readonly string[];
  say: (line: string) => void;
  /** Whether `say` shows its lines (not under --json); if not, a failed split's error carries its last lines. */
  shown: boolean;
  signal?: AbortSignal;
};

/**
 * Runs each split in its own `fgl experiment paper --split S --jobs 1` process, `jobs` at a time,
 * and merges their rows in the paper's split order. One tfjs wasm thread trains a model
 * (threaded wasm does not run in Node), so a machine with two cores runs two splits at once. Each
 * split's numbers depend only on the seed, not on which process ran it, nor on what else that
 * process ran (tests/cli/experiment-paper.test.ts compares --jobs 1 with --jobs 2).
 */
export async function runPaperInProcesses(o: ParallelOptions): Promise<PaperResult> {
  const scratch = await mkdtemp(join(tmpdir(), 'fgl-experiment-jobs-'));
  const running = new Set<ChildProcess>();
  const results = new Map<string, PaperResult>();
  const started = Date.now();
  const durations: number[] = [];
  const queue = [...o.splits];
  let failure: Error | null = null;
  const stopAll = () => running.forEach((c) => c.kill('SIGTERM'));
  o.signal?.addEventListener('abort', stopAll, { once: true });

  const runOne = (split: Split, index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const out = join(scratch, `split-${index}`);
      const tag = `[${split.label}]`;
      const childStart = Date.now();
      const child = spawn(
        process.execPath,
        [
          CLI_ENTRY,
          'experiment',
          'paper',
          ...o.childArgs,
          '--split',
          split.label,
          '--jobs',
          '1',
          '--out',
          out,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: process.env },
      );
      running.add(child);
      const tail: string[] = [];
      let pending = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          if (line.trim().length === 0) continue;
          tail.push(line);
          if (tail.length > 20) tail.shift();
          o.say(line.startsWith(split.label) ? line : `${tag} ${line}`); // result lines carry the split already
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        running.delete(child);
        if (code !== 0) {
          if (pending.trim()) tail.push(pending);
          reject(
            new Error(
              `The process running ${split.label} ${signal ? `was stopped by ${signal}` : `exited with code ${code}`}` +
                (o.shown
                  ? '; its output is above.'
                  : tail.length
                    ? `; its last lines:\n${tail.slice(-6).join('\n')}`
                    : '.'),
            ),
          );
          return;
        }
        readFile(join(out, 'results.json'), 'utf8')
          .then((text) => {
            results.set(split.label, JSON.parse(text) as PaperResult);
            const done = results.size;
            const elapsed = (Date.now() - started) / 1000;
            const left = o.splits.length - done;
            durations.push((Date.now() - childStart) / 1000);
            // What is queued or still running, shared by the processes, at the mean split's time.
            const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
            const eta = Math.round(
              (mean * (queue.length + running.size)) / Math.min(o.jobs, o.splits.length),
            );
            o.say(
              `${split.label} finished (${done} of ${o.splits.length} splits, ${Math.round(elapsed)} s)` +
                (left > 0 ? `; about ${eta} s left` : ''),
            );
            resolve();
          })
          .catch(reject);
      });
    });

  const worker = async (): Promise<void> => {
    while (queue.length > 0 && failure === null) {
      o.signal?.throwIfAborted();
      const split = queue.shift()!;
      try {
        await runOne(split, o.splits.indexOf(split));
      } catch (e) {
        failure ??= e as Error;
        stopAll();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(o.jobs, o.splits.length) }, worker));
    o.signal?.throwIfAborted();
    if (failure) throw failure;
    const ordered = o.splits.map((s) => results.get(s.label)!);
    const first = ordered[0]!;
    return { rows: ordered.flatMap((r) => r.rows), settings: first.settings };
  } finally {
    o.signal?.removeEventListener('abort', stopAll);
    stopAll();
    await rm(scratch, { recursive: true, force: true });
  }
}
