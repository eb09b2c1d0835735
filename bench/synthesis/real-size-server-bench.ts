/**
 * Server figures at real size on CPU: the SD 2.x UNet (865.9 M parameters) for one step at a
 * 64² latent (512² image), batch 1 and batch 2 (classifier-free guidance), one VAE decode to 512²,
 * the text encoder's unconditional embedding, one full `generate` (1 image, 1 step, turbo) through
 * the production pipeline, and the process's peak RSS against the stated memory target.
 * Run: npm run bench -- server --real-size   (or: npx tsx bench/synthesis/real-size-server-bench.ts [--fp16] [--reps 1] [--arena] [--skip-generate] [--no-warmup])
 * Models: `fgl models make-real-size` graphs (published architecture, seeded random weights),
 * generated on first use into the model cache ($FGL_MODELS_DIR, else the OS temp folder): 5 GB at fp32.
 */
import os from 'node:os';
import ort from 'onnxruntime-node';
import { ensureRealSizeModels } from '../../src/cli/tiny-models/real-size/make-real-size-models';
import { SD2_TEXT_ENCODER, SD2_UNET } from '../../src/cli/tiny-models/real-size/real-size-specs';
import { createSeededRandom } from '../../src/server/synthesis/schedulers/seeded-random';
import { StableDiffusionPipeline } from '../../src/server/synthesis/sd-pipeline';
import { vmHwmMb } from '../peak-rss';
import { unetFeeds, vaeFeeds } from './sd-feeds';

/** Synthesis memory target at fp32 on CPU: UNet (3.5 GB of weights) + VAE + activations. */
export const SERVER_RSS_TARGET_MB = 8 * 1024;
const MB = 1024 * 1024;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const log = (line: string) => process.stderr.write(`[real-size-server] ${line}\n`);
const argv = process.argv.slice(2);
const fp16 = argv.includes('--fp16');
/**
 * `--arena`: ORT's CPU memory arena back on for the UNet and VAE sessions (the pipeline turns it
 * off by default, which bounds memory: activations are freed after each run). For comparison.
 */
const arena = argv.includes('--arena');
/** `--skip-generate`: leave out the full generate() (saves one more UNet step and VAE decode). */
const skipGenerate = argv.includes('--skip-generate');
/** `--no-warmup`: time the first call too (for memory runs on a starved machine). */
const warmup = !argv.includes('--no-warmup');
const repsAt = argv.indexOf('--reps');
const reps = repsAt >= 0 ? Number(argv[repsAt + 1]) : 1;
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps needs a whole number >= 1, got ${String(argv[repsAt + 1])}`);

const rssMb = () => round(process.memoryUsage().rss / MB);

/** Milliseconds of each of `reps` calls after one untimed warm-up call (ORT plans memory on the first). */
async function timeCalls(what: string, n: number, call: () => Promise<unknown>): Promise<number[]> {
  log(`${what}: ${warmup ? 'warm-up + ' : ''}${n} timed call(s)…`);
  if (warmup) await call();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    out.push(round(performance.now() - t, 0));
  }
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const models = await ensureRealSizeModels(
    { fp16, only: ['textEncoder', 'unet', 'vaeDecoder'] },
    undefined,
    log,
  );
  const generateSeconds = round((performance.now() - t0) / 1000);
  const h = SD2_UNET.sample_size;
  const D = SD2_TEXT_ENCODER.hidden_size;

  let t = performance.now();
  const pipeline = await StableDiffusionPipeline.load(models.dirs.generator, {
    device: 'cpu',
    ...(arena ? { sessionOptions: { enableCpuMemArena: true } } : {}),
  });
  const loadMs = round(performance.now() - t, 0);
  const rssAfterLoad = rssMb();
  t = performance.now();
  const negative = await pipeline.encodeNegative('');
  const encodeNegativeMs = round(performance.now() - t, 0);
  const unet = pipeline.unet;
  const vae = pipeline.vaeDecoder;

  const feedsAt = (batch: number) => {
    const hidden = new Float32Array(batch * 77 * D);
    for (let i = 0; i < batch; i++) hidden.set(negative, i * 77 * D);
    const latents = Float32Array.from(createSeededRandom(0).normals(batch * 4 * h * h));
    return unetFeeds(unet, { batch, latent: h, dim: D, latents, hidden, timestep: 999 });
  };
  const unetMs: Record<string, number[]> = {};
  for (const batch of [1, 2]) {
    const feeds = feedsAt(batch);
    unetMs[`batch${batch}`] = await timeCalls(`UNet step, batch ${batch}`, reps, () =>
      unet.run(feeds),
    );
  }
  const rssAfterUnet = rssMb();
  const vaeIn = vaeFeeds(vae, {
    batch: 1,
    latent: h,
    latents: Float32Array.from(createSeededRandom(1).normals(4 * h * h)),
  });
  const vaeMs = await timeCalls('VAE decode 64² → 512²', reps, () => vae.run(vaeIn));

  if (!skipGenerate)
    log('one generate() through the pipeline: 1 image, 1 turbo step, no guidance, 512²…');
  t = performance.now();
  const generated = skipGenerate
    ? null
    : await pipeline.generate({
        conditioning: negative,
        negative,
        guidance: 0,
        scheduler: 'turbo',
        steps: 1,
        height: 8 * h,
        width: 8 * h,
        seeds: [7],
      });
  const generateMs = round(performance.now() - t, 0);
  await pipeline.dispose();

  const peak = vmHwmMb();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const unetGraph = models.graphs.find((g) => g.model === 'unet')!;
  const vaeGraph = models.graphs.find((g) => g.model === 'vaeDecoder')!;
  const cpus = os.cpus();
  const result = {
    benchmark: 'server-real-size',
    startedAt: started.toISOString(),
    note: 'Published SD 2.x architectures at real size with seeded random weights (fgl models make-real-size): real compute, meaningless images.',
    machine: {
      cpuModel: cpus[0]?.model ?? 'unknown',
      cpus: cpus.length,
      memoryGb: round(os.totalmem() / 1024 ** 3),
      loadAverage1mAtStart: round(os.loadavg()[0]!, 2),
      node: process.version,
      onnxruntimeNode: ort.env.versions.node ?? 'unknown',
    },
    models: { root: models.root, fp16, graphs: models.graphs, generateSeconds },
    device: pipeline.device,
    load: { pipelineMs: loadMs, encodeNegativeMs, rssAfterLoadMb: rssAfterLoad },
    unetStep: {
      latent: `${h}×${h} (512² image)`,
      batch1Ms: median(unetMs.batch1!),
      batch2Ms: median(unetMs.batch2!),
      samplesMs: unetMs,
      gflopsPerImage: round((2 * unetGraph.macs) / 1e9),
      achievedGflopsPerS: round((2 * unetGraph.macs) / 1e9 / (median(unetMs.batch1!) / 1000)),
      rssAfterMb: rssAfterUnet,
    },
    vaeDecode: {
      ms: median(vaeMs),
      samplesMs: vaeMs,
      gflops: round((2 * vaeGraph.macs) / 1e9),
      achievedGflopsPerS: round((2 * vaeGraph.macs) / 1e9 / (median(vaeMs) / 1000)),
    },
    sessionOptions: arena
      ? { enableCpuMemArena: true }
      : 'pipeline defaults (enableCpuMemArena: false)',
    warmup,
    generateOneImageOneStep: generated ? { ms: generateMs, timings: generated.timings } : null,
    memory: {
      peakRssMb: peak === null ? null : round(peak),
      peakMeasure: peak === null ? 'unavailable (not Linux)' : 'VmHWM (/proc/self/status)',
      targetMb: SERVER_RSS_TARGET_MB,
      meetsTarget: peak === null ? null : peak <= SERVER_RSS_TARGET_MB,
    },
    loadAverage1mAtEnd: round(os.loadavg()[0]!, 2),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (result.memory.meetsTarget === false) {
    log(
      `FAIL peak RSS ${result.memory.peakRssMb} MB is above the target ${SERVER_RSS_TARGET_MB} MB.`,
    );
    process.exitCode = 3;
  }
}

await main();
