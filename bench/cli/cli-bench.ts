/**
 * CLI start-up benchmark: wall time of `fgl --help` and the time until a command starts working
 * (the `fgl-startup-probe` line runCommand prints under FGL_STARTUP_PROBE=1, measured from process
 * start), each in a fresh process, next to a bare `node -e 0` as the machine's baseline.
 * Targets (issue #15): --help ≤ 200 ms, a command working ≤ 500 ms.
 * Run: npm run bench -- cli   (or: npx tsx bench/cli/cli-bench.ts [--runs 10])
 * Prints one JSON object on stdout; progress goes to stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.join(ROOT, 'bin', 'fgl.mjs');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (xs: number[]) => ({ median: Math.round(median(xs)), min: Math.round(Math.min(...xs)), max: Math.round(Math.max(...xs)) });

function wall(args: string[], env: NodeJS.ProcessEnv = {}): { ms: number; stderr: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { ms: performance.now() - t, stderr: r.stderr };
}

const empty = mkdtempSync(path.join(tmpdir(), 'fgl-cli-bench-'));
try {
  process.stderr.write('cli bench: building the bundle if the sources changed…\n');
  wall([BIN, '--help']);
  const bare: number[] = [];
  const help: number[] = [];
  const commandHelp: number[] = [];
  const started: Record<string, number[]> = { 'site scan': [], 'server study create': [], 'site prepare': [] };
  const argv: Record<string, string[]> = {
    'site scan': ['site', 'scan', empty, '--json'],
    // Both stop inside run() for a missing option, after the probe: what is timed is the start-up.
    'server study create': ['server', 'study', 'create', '--data-dir', empty],
    'site prepare': ['site', 'prepare', '--data', empty],
  };
  for (let i = 0; i < RUNS; i++) {
    bare.push(wall(['-e', '0']).ms);
    help.push(wall([BIN, '--help']).ms);
    commandHelp.push(wall([BIN, 'site', 'prepare', '--help']).ms);
    for (const [name, args] of Object.entries(argv)) {
      const { stderr } = wall([BIN, ...args], { FGL_STARTUP_PROBE: '1' });
      const m = /fgl-startup-probe ([\d.]+) ms/.exec(stderr);
      if (!m) throw new Error(`${name}: no start-up probe line; stderr: ${stderr.slice(0, 300)}`);
      started[name]!.push(Number(m[1]));
    }
    process.stderr.write(`  run ${i + 1}/${RUNS}\n`);
  }
  const result = {
    runs: RUNS,
    bareNodeMs: summary(bare),
    helpMs: summary(help),
    commandHelpMs: summary(commandHelp),
    commandStartedMs: Object.fromEntries(Object.entries(started).map(([k, v]) => [k, summary(v)])),
    targets: { helpMs: 200, commandStartedMs: 500 },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  rmSync(empty, { recursive: true, force: true });
}
