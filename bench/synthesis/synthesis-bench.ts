/**
 * Synthesis time per image of src/server/synthesis/sd-pipeline.ts, and its overhead over a raw
 * loop of the same ORT calls (UNet `session.run` × UNet steps + VAE decode per image) on the same
 * sessions with the same input shapes and dtypes, measured alternately to cancel machine noise.
 * Run: npx tsx bench/synthesis/synthesis-bench.ts [--preset bench|tiny] [--latent 64] [--channels 256]
 *        [--blocks 4] [--steps 10] [--images 1] [--guidance 2] [--scheduler pndm] [--reps 3] [--device cpu] [--threads 0]
 * Prints one JSON object. Models are the generated tiny ones (real SD shapes at `bench`, random
 * weights): the timings are real compute, the images mean nothing.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import {
  makeTinyModels,
  readTinyModels,
  type TinyModels,
} from '../../src/cli/tiny-models/make-tiny-models';
import {
  resolveTinyModelOptions,
  type TinyModelOptions,
  type TinyModelPreset,
} from '../../src/cli/tiny-models/tiny-model-options';
import { type DeviceChoice, inputDType, inputShape } from '../../src/core/ort/execution-device';
import { nodeFeeds } from '../../src/core/ort/float16';
import { tensorToFloat32 } from '../../src/core/ort/tensor-float32';
import { floatFeed, timestepFeed } from '../../src/server/synthesis/ort-feeds';
import { createScheduler } from '../../src/server/synthesis/schedulers/create-scheduler';
import type { SchedulerName } from '../../src/server/synthesis/schedulers/scheduler';
import { createSeededRandom } from '../../src/server/synthesis/schedulers/seeded-random';
import { StableDiffusionPipeline } from '../../src/server/synthesis/sd-pipeline';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string, fallback: number): number => Number(arg(name) ?? fallback);

async function benchModels(options: TinyModelOptions): Promise<TinyModels> {
  const key = createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 12);
  const dir = path.join(repoRoot, '.fgl-tmp', `bench-synthesis-models-${key}`);
  try {
    return await readTinyModels(dir);
  } catch {
    return makeTinyModels(dir, options);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const preset = (arg('preset') ?? 'bench') as TinyModelPreset;
  const overrides: Partial<TinyModelOptions> = { preset };
  if (arg('latent')) overrides.latentSize = num('latent', 0);
  if (arg('channels')) overrides.unetChannels = num('channels', 0);
  if (arg('blocks')) overrides.unetBlocks = num('blocks', 0);
  const modelOptions = resolveTinyModelOptions(overrides);
  const steps = num('steps', 10);
  const images = num('images', 1);
  const guidance = num('guidance', 2);
  const reps = num('reps', 3);
  const scheduler = (arg('scheduler') ?? 'pndm') as SchedulerName;
  const device = (arg('device') ?? 'cpu') as DeviceChoice;
  const size = modelOptions.latentSize * 8;
  const D = modelOptions.textHiddenDim;

  const models = await benchModels(modelOptions);
  const threads = num('threads', 0);
  // Spinning ORT threads burn CPU while waiting: off, so CPU time measures work on a shared machine.
  const pipeline = await StableDiffusionPipeline.load(models.dirs.generator, {
    device,
    batchSize: images,
    sessionOptions: {
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    },
  });
  const negative = await pipeline.encodeNegative('');
  const conditioning = new Float32Array(images * 77 * D);
  const prompt = await pipeline.encodeNegative('a photo of a red circle');
  for (let i = 0; i < images; i++) conditioning.set(prompt, i * 77 * D);

  // The raw loop: the same calls with inputs built once, outside the timing.
  const unetSteps = createScheduler(scheduler, pipeline.schedulerConfig, steps).timesteps;
  const cfg = guidance > 1;
  const batch = cfg ? 2 * images : images;
  const h = modelOptions.latentSize;
  // Same values as the pipeline's first step: seed-0 latents, [negative × n; prompt × n] hidden states.
  const latents = createSeededRandom(0).normals(4 * h * h);
  const sample = new Float32Array(batch * 4 * h * h);
  for (let i = 0; i < batch; i++) sample.set(latents, i * latents.length);
  const hidden = new Float32Array(batch * 77 * D);
  for (let i = 0; i < batch; i++) hidden.set(cfg && i < images ? negative : prompt, i * 77 * D);
  const unet = pipeline.unet;
  const vae = pipeline.vaeDecoder;
  // The raw loop calls the sessions' own run; the pipeline's calls go through a timer, so each
  // pipeline run also tells how much of its wall time was inside ORT (immune to load drift).
  const rawUnetRun = unet.run.bind(unet) as (
    feeds: ort.InferenceSession.FeedsType,
  ) => Promise<ort.InferenceSession.ReturnType>;
  const rawVaeRun = vae.run.bind(vae) as (
    feeds: ort.InferenceSession.FeedsType,
  ) => Promise<ort.InferenceSession.ReturnType>;
  let inOrtMs = 0;
  for (const session of [unet, vae]) {
    const run = session.run.bind(session) as (
      ...args: unknown[]
    ) => Promise<ort.InferenceSession.ReturnType>;
    (session as { run: unknown }).run = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await run(...args);
      } finally {
        inOrtMs += performance.now() - t;
      }
    };
  }
  const rawUnetFeeds = nodeFeeds({
    sample: floatFeed(sample, inputDType(unet, 'sample'), [batch, 4, h, h], 'sample'),
    timestep: timestepFeed(
      unetSteps[0]!,
      inputDType(unet, 'timestep'),
      inputShape(unet, 'timestep'),
      batch,
    ),
    encoder_hidden_states: floatFeed(
      hidden,
      inputDType(unet, 'encoder_hidden_states'),
      [batch, 77, D],
      'encoder_hidden_states',
    ),
  });
  const rawVaeFeeds = nodeFeeds({
    latent_sample: floatFeed(
      latents.map((v) => v / pipeline.vaeScalingFactor),
      inputDType(vae, 'latent_sample'),
      [1, 4, h, h],
      'latent_sample',
    ),
  });
  type Run = { totalMs: number; unetMs: number; cpuMs: number; ortMs: number };
  const cpuMs = (since: NodeJS.CpuUsage): number => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };
  const raw = async (): Promise<Run> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let k = 0; k < unetSteps.length; k++) {
      const out = await rawUnetRun(rawUnetFeeds);
      tensorToFloat32(out[unet.outputNames[0]!]!);
    }
    const t1 = performance.now();
    for (let i = 0; i < images; i++) {
      const out = await rawVaeRun(rawVaeFeeds);
      tensorToFloat32(out[vae.outputNames[0]!]!);
    }
    const totalMs = performance.now() - t0;
    return { totalMs, unetMs: t1 - t0, cpuMs: cpuMs(c0), ortMs: totalMs };
  };
  let seed = 0;
  const piped = async (): Promise<Run> => {
    const seeds = Array.from({ length: images }, () => seed++);
    inOrtMs = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await pipeline.generate({
      conditioning,
      negative,
      guidance,
      scheduler,
      steps,
      height: size,
      width: size,
      seeds,
    });
    return {
      totalMs: performance.now() - t0,
      unetMs: r.timings.denoiseMs,
      cpuMs: cpuMs(c0),
      ortMs: inOrtMs,
    };
  };

  // Warm-up (first runs allocate arenas), then alternate.
  await raw();
  await piped();
  const rawRuns: Run[] = [];
  const pipeRuns: Run[] = [];
  for (let r = 0; r < reps; r++) {
    if (r % 2 === 0) {
      rawRuns.push(await raw());
      pipeRuns.push(await piped());
    } else {
      pipeRuns.push(await piped());
      rawRuns.push(await raw());
    }
  }
  const stat = (runs: Run[], key: keyof Run) => ({
    median: median(runs.map((r) => r[key])),
    min: Math.min(...runs.map((r) => r[key])),
  });
  const rawTotal = stat(rawRuns, 'totalMs');
  const pipeTotal = stat(pipeRuns, 'totalMs');
  const rawUnet = stat(rawRuns, 'unetMs');
  const pipeUnet = stat(pipeRuns, 'unetMs');
  const rawCpu = stat(rawRuns, 'cpuMs');
  const pipeCpu = stat(pipeRuns, 'cpuMs');
  // Median of each rep's pipeline/raw ratio: the two runs of a rep are adjacent in time, so they share the machine's load.
  const paired = (key: keyof Run): number =>
    median(pipeRuns.map((r, i) => r[key] / rawRuns[i]![key]));
  const ratio = (a: { median: number; min: number }, b: { median: number; min: number }) => ({
    median: a.median / b.median,
    min: a.min / b.min,
  });
  const result = {
    bench: 'synthesis',
    note: 'Generated tiny models with real SD shapes and random weights: real compute, meaningless images.',
    device: pipeline.device,
    fallbackMessage: pipeline.fallbackMessage ?? null,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      node: process.version,
      onnxruntime: ort.env.versions.common,
    },
    model: {
      preset,
      latentSize: h,
      imageSize: size,
      unetChannels: modelOptions.unetChannels,
      unetBlocks: modelOptions.unetBlocks,
      textHiddenDim: D,
    },
    run: {
      threads: threads || 'ORT default',
      scheduler,
      steps,
      unetCallsPerBatch: unetSteps.length,
      guidance,
      unetBatch: batch,
      imagesPerCall: images,
      reps,
    },
    secondsPerImage: {
      pipeline: { median: pipeTotal.median / 1000 / images, min: pipeTotal.min / 1000 / images },
      raw: { median: rawTotal.median / 1000 / images, min: rawTotal.min / 1000 / images },
    },
    pipelineMsOutsideOrtPerImage: median(pipeRuns.map((r) => (r.totalMs - r.ortMs) / images)),
    msPerUnetCall: {
      pipeline: {
        median: pipeUnet.median / unetSteps.length,
        min: pipeUnet.min / unetSteps.length,
      },
      raw: { median: rawUnet.median / unetSteps.length, min: rawUnet.min / unetSteps.length },
    },
    // pipeline / raw: wall time of everything, of the denoising loop alone, and process CPU time (less sensitive to other load).
    overheadRatio: {
      total: { ...ratio(pipeTotal, rawTotal), paired: paired('totalMs') },
      denoise: { ...ratio(pipeUnet, rawUnet), paired: paired('unetMs') },
      cpu: { ...ratio(pipeCpu, rawCpu), paired: paired('cpuMs') },
      // Pipeline wall time / the part of it spent inside its own ORT calls (same run, so load cancels).
      ownOrtCalls: median(pipeRuns.map((r) => r.totalMs / r.ortMs)),
      target: 1.1,
    },
    loadAverage: os.loadavg(),
    runsMs: { pipeline: pipeRuns, raw: rawRuns },
  };
  await pipeline.dispose();
  console.log(JSON.stringify(result, null, 2));
}

await main();
