import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command, Output } from '../command';
import { optionalString, UsageError } from '../command';
import { REPO_ROOT } from '../repo-root';

const AREAS = ['site', 'server', 'cli', 'scale', 'gpu', 'all'] as const;
type Area = (typeof AREAS)[number];

/** The benchmark scripts of each area, run in this order. */
export const BENCH_SCRIPTS: Record<Exclude<Area, 'all'>, { name: string; file: string }[]> = {
  site: [{ name: 'site', file: 'bench/site/site-bench.ts' }],
  cli: [{ name: 'cli', file: 'bench/cli/cli-bench.ts' }],
  server: [
    { name: 'synthesis', file: 'bench/synthesis/synthesis-bench.ts' },
    { name: 'training', file: 'bench/training/training-bench.ts' },
    { name: 'intake', file: 'bench/server/intake-bench.ts' },
    { name: 'model-digest', file: 'bench/server/model-digest-bench.ts' },
  ],
  scale: [{ name: 'scale', file: 'bench/scale/scale-bench.ts' }],
  gpu: [{ name: 'gpu', file: 'bench/gpu/gpu-bench.ts' }],
};

/** `--real-size`: the areas' scripts at the published model sizes instead of the tiny graphs. */
export const REAL_SIZE_SCRIPTS: Partial<
  Record<Exclude<Area, 'all'>, { name: string; file: string; args: string[] }[]>
> = {
  site: [{ name: 'site', file: 'bench/site/site-bench.ts', args: ['--real-size'] }],
  server: [
    { name: 'server-real-size', file: 'bench/synthesis/real-size-server-bench.ts', args: [] },
  ],
};

type AreaRun = { area: Exclude<Area, 'all'>; file: string; outcomes: ScriptOutcome[] };
type ScriptOutcome = {
  name: string;
  file: string;
  ok: boolean;
  seconds: number;
  result?: unknown;
  error?: string;
};

/** A bench script prints one JSON object on stdout (possibly pretty-printed, after other lines). */
export function parseBenchOutput(stdout: string): unknown {
  const text = stdout.trim();
  try {
    return JSON.parse(text);
  } catch {
    // Fall back to the last object that starts at the beginning of a line.
    for (let at = text.lastIndexOf('\n{'); at >= 0; at = text.lastIndexOf('\n{', at - 1)) {
      try {
        return JSON.parse(text.slice(at + 1));
      } catch {
        // keep looking further up
      }
    }
    if (text.startsWith('{')) return JSON.parse(text);
    throw new Error('no JSON object found on stdout');
  }
}

/** Runs `node --import tsx <file> …args` from the repository root; stderr (progress) passes through. */
function runScript(
  file: string,
  args: string[],
  signal: AbortSignal,
): Promise<{ code: number | null; stdout: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, file, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    signal,
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => (stdout += s));
  return new Promise((resolve, reject) => {
    child.on('error', (e) => (signal.aborted ? resolve({ code: null, stdout }) : reject(e)));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

async function runArea(
  area: Exclude<Area, 'all'>,
  o: { outDir: string; quick: boolean; realSize: boolean; out: Output; signal: AbortSignal },
): Promise<AreaRun> {
  const startedAt = new Date();
  const outcomes: ScriptOutcome[] = [];
  const scripts =
    (o.realSize ? REAL_SIZE_SCRIPTS[area] : undefined) ??
    BENCH_SCRIPTS[area].map((s) => ({ ...s, args: [] as string[] }));
  for (const s of scripts) {
    o.signal.throwIfAborted();
    if (!existsSync(path.join(REPO_ROOT, s.file))) {
      const error = `${s.file} does not exist: the ${s.name} benchmark has not been written yet (or this checkout lacks it).`;
      o.out.warn(error);
      outcomes.push({ name: s.name, file: s.file, ok: false, seconds: 0, error });
      continue;
    }
    o.out.info(`▶ ${s.name}: ${s.file}`);
    const t = performance.now();
    // --quick is understood by the site benchmark only; other scripts take their own defaults.
    const { code, stdout } = await runScript(
      s.file,
      [...s.args, ...(s.name === 'site' && o.quick ? ['--quick'] : [])],
      o.signal,
    );
    const seconds = Math.round((performance.now() - t) / 100) / 10;
    o.signal.throwIfAborted();
    if (code !== 0) {
      // A script that measured but failed a check (e.g. the site bench's floor) still printed its
      // figures: keep them in the record beside the failure.
      let result: unknown;
      try {
        result = parseBenchOutput(stdout);
      } catch {
        result = undefined;
      }
      outcomes.push({
        name: s.name,
        file: s.file,
        ok: false,
        seconds,
        error: `exited with code ${String(code)} (its stderr is above)`,
        ...(result === undefined ? {} : { result }),
      });
      continue;
    }
    try {
      outcomes.push({
        name: s.name,
        file: s.file,
        ok: true,
        seconds,
        result: parseBenchOutput(stdout),
      });
    } catch (e) {
      outcomes.push({
        name: s.name,
        file: s.file,
        ok: false,
        seconds,
        error: `${(e as Error).message}; stdout ended with: ${stdout.slice(-300)}`,
      });
    }
  }
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = path.join(o.outDir, `${area}${o.realSize ? '-real-size' : ''}-${stamp}.json`);
  const record = {
    area,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: {
      cpus: os.cpus().length,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
    },
    scripts: outcomes,
  };
  await mkdir(o.outDir, { recursive: true });
  await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
  return { area, file, outcomes };
}

export const benchCommand: Command = {
  path: ['bench'],
  summary:
    'run the benchmarks (site pipeline; server synthesis, training, intake) and save their JSON',
  description: `
Runs each benchmark script of the chosen area in its own Node process and saves what it prints
to bench-results/<area>-<timestamp>.json (gitignored):

  site     bench/site/site-bench.ts: decode, CLIP, captioning and encoding throughput, the
           pipeline's overhead over raw ONNX Runtime, peak memory on 1,000 vs 5,000 images
  server   bench/synthesis/synthesis-bench.ts, bench/training/training-bench.ts and
           bench/server/intake-bench.ts
  cli      bench/cli/cli-bench.ts: \`fgl --help\` and the time until a command starts working,
           in fresh processes, beside a bare \`node -e 0\` (targets 200 ms and 500 ms)
  scale    bench/scale/scale-bench.ts: a round synthesized on the Redis queue by 1, 2 and 4
           worker processes vs in-process, and the queue's overhead per batch (needs redis-server)
  gpu      bench/gpu/gpu-bench.ts: SD-Turbo-shaped UNet 512² one step + VAE decode at batch
           1/4/8 (fp16, CUDA provider; onnxruntime-node offers no CUDA graphs or I/O binding),
           CLIP at batch 256, text encoder; on a machine without CUDA it says why and exits 0
  all      site, server, cli, then scale (gpu only when asked for)

Benchmarks use generated models with random weights (tiny graphs, or the published sizes with
--real-size): they time FGL's code and real-size compute, never accuracy.
--real-size runs site and server at the published model sizes instead (fgl models
make-real-size: CLIP ViT-B/32, SD 2 text encoder, UNet, VAE; seeded random weights, generated
into the model cache on first use, about 5.5 GB at fp32): real compute, for capacity planning.
See docs/benchmarks.md for what each number means. A missing script is reported, not fatal.`,
  positionals: 'site|server|cli|scale|gpu|all',
  options: {
    out: {
      type: 'string',
      value: 'DIR',
      default: 'bench-results',
      description: 'folder for the result files',
    },
    'real-size': {
      type: 'boolean',
      description:
        'site and server: the published model sizes (random weights) instead of tiny graphs; GBs in the model cache',
    },
    quick: {
      type: 'boolean',
      description:
        'site benchmark only: smaller sets (200 vs 1,000 images), a smoke test, not figures',
    },
  },
  examples: [
    'npm run bench -- site',
    'fgl bench all --out ./bench-results',
    'fgl bench site --quick --json',
    'npm run bench -- site --real-size',
    'npm run bench -- gpu',
  ],
  async run(ctx) {
    const area = ctx.positionals[0] ?? 'site';
    if (ctx.positionals.length > 1 || !AREAS.includes(area as Area))
      throw new UsageError(
        `expected one area, site, server, cli, scale, gpu or all; got "${ctx.positionals.join(' ')}"`,
      );
    const outDir = path.resolve(optionalString(ctx, 'out') ?? 'bench-results');
    const areas: Exclude<Area, 'all'>[] =
      area === 'all' ? ['site', 'server', 'cli', 'scale'] : [area as Exclude<Area, 'all'>];
    const runs: AreaRun[] = [];
    for (const a of areas)
      runs.push(
        await runArea(a, {
          outDir,
          quick: Boolean(ctx.values.quick),
          realSize: Boolean(ctx.values['real-size']),
          out: ctx.out,
          signal: ctx.signal,
        }),
      );
    const failed = runs.flatMap((r) =>
      r.outcomes.filter((x) => !x.ok).map((x) => `${x.name}: ${x.error ?? 'failed'}`),
    );
    ctx.out.result(
      {
        files: runs.map((r) => r.file),
        results: Object.fromEntries(
          runs.flatMap((r) =>
            r.outcomes.map((x) => [x.name, x.ok ? x.result : { error: x.error }]),
          ),
        ),
      },
      () =>
        [
          ...runs.flatMap((r) =>
            r.outcomes.map(
              (x) =>
                `${x.ok ? '✓' : '✗'} ${x.name} (${x.seconds}s)${x.ok ? '' : `: ${x.error ?? ''}`}`,
            ),
          ),
          ...runs.map((r) => `Saved ${path.relative(process.cwd(), r.file) || r.file}`),
          ...runs.flatMap((r) =>
            r.outcomes.filter((x) => x.ok && x.name === 'site').map((x) => siteSummary(x.result)),
          ),
        ].join('\n'),
    );
    return failed.length > 0 ? 1 : 0;
  },
};

type SiteSummary = {
  config?: { realSize?: boolean };
  throughput?: Record<string, { imagesPerSec?: number; promptsPerSec?: number; skipped?: string }>;
  overhead?: Record<
    string,
    { ratio: number; pairedRatioMedian?: number; ratioOfMins?: number; target: number }
  >;
  memory?: { peakMb: Record<string, number>; growthMb: number; targetGrowthMb: number } | null;
};

/** A few lines for people; the JSON file has everything. */
function siteSummary(result: unknown): string {
  const r = result as SiteSummary;
  const lines = [
    r.config?.realSize
      ? 'Site pipeline at real size (published architectures, random weights: real compute):'
      : 'Site pipeline (tiny models: FGL overhead, not real-model speed):',
  ];
  for (const [k, v] of Object.entries(r.throughput ?? {}))
    lines.push(
      `  ${k.padEnd(22)} ${v.skipped ? `skipped: ${v.skipped}` : v.imagesPerSec !== undefined ? `${v.imagesPerSec} images/s` : `${String(v.promptsPerSec)} prompts/s`}`,
    );
  for (const [k, v] of Object.entries(r.overhead ?? {}))
    lines.push(
      `  overhead ${k.padEnd(13)} ${v.ratio}× raw session.run (paired ${String(v.pairedRatioMedian)}×, fastest-to-fastest ${String(v.ratioOfMins)}×), target ≤ ${v.target}`,
    );
  if (r.memory)
    lines.push(
      `  peak RSS ${Object.entries(r.memory.peakMb)
        .map(([n, mb]) => `${n} images ${mb} MB`)
        .join(', ')}; growth ${r.memory.growthMb} MB (target ≤ ${r.memory.targetGrowthMb})`,
    );
  return lines.join('\n');
}
