/**
 * GPU benchmark, ready to run unchanged on a CUDA machine: `npm run bench -- gpu`.
 * SD-Turbo-shaped UNet (the SD 2.x UNet, 865.9 M parameters) one step at 512² (64² latent),
 * batch 1/4/8, fp16, CUDA provider; the VAE decode at the same batches; CLIP ViT-B/32 vision at
 * batch 256; the SD 2 text encoder. Prints ms/image and images/s beside the published anchor.
 * On a machine without a working CUDA provider it prints why (and how to install it) and exits 0.
 * Models: `fgl models make-real-size --fp16` graphs, generated into the model cache on first use.
 */
import os from 'node:os';
import ort from 'onnxruntime-node';
import { ensureRealSizeModels } from '../../src/cli/tiny-models/real-size/make-real-size-models';
import {
  CLIP_VIT_B32,
  SD2_TEXT_ENCODER,
  SD2_UNET,
} from '../../src/cli/tiny-models/real-size/real-size-specs';
import { CUDA_INSTALL_COMMAND } from '../../src/core/ort/execution-device';
import { unetFeeds, vaeFeeds } from '../synthesis/sd-feeds';
import { ANCHOR, NODE_BINDING_LIMITS, cudaAvailability } from './gpu-bench-checks';

const log = (line: string) => process.stderr.write(`[gpu-bench] ${line}\n`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function timeRuns(
  s: ort.InferenceSession,
  feeds: ort.InferenceSession.FeedsType,
  warmup: number,
  reps: number,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await s.run(feeds);
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await s.run(feeds);
    out.push(performance.now() - t);
  }
  return out;
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
    onnxruntimeNode: ort.env.versions.node ?? 'unknown',
  };
  const cuda = await cudaAvailability();
  if (!cuda.available) {
    log(`No CUDA here: ${cuda.reason}.`);
    log(`To run the GPU benchmark: ${cuda.fix}.`);
    log('Nothing was measured; exiting 0 (this is not a failure on a CPU-only machine).');
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'gpu', startedAt: started.toISOString(), ran: false, reason: cuda.reason, fix: cuda.fix, installCommand: CUDA_INSTALL_COMMAND, machine }, null, 2)}\n`,
    );
    return;
  }

  const models = await ensureRealSizeModels(
    { fp16: true, only: ['clipVision', 'textEncoder', 'unet', 'vaeDecoder'] },
    undefined,
    log,
  );
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [{ name: 'cuda', deviceId: 0 }],
    graphOptimizationLevel: 'all',
  };
  const open = (rel: string) => ort.InferenceSession.create(`${models.root}/${rel}`, options);
  const h = SD2_UNET.sample_size;
  const D = SD2_TEXT_ENCODER.hidden_size;
  const warmup = 3;
  const reps = 10;

  const unet = await open('generator/unet/model.onnx');
  const vae = await open('generator/vae_decoder/model.onnx');
  const sd: Record<string, unknown>[] = [];
  for (const batch of [1, 4, 8]) {
    log(`UNet one step + VAE decode, batch ${batch}…`);
    const wave = (n: number, f: (i: number) => number) =>
      Float32Array.from({ length: n }, (_, i) => f(i));
    const unetIn = unetFeeds(unet, {
      batch,
      latent: h,
      dim: D,
      latents: wave(batch * 4 * h * h, Math.sin),
      hidden: wave(batch * 77 * D, Math.cos),
      timestep: 999,
    });
    const vaeIn = vaeFeeds(vae, { batch, latent: h, latents: wave(batch * 4 * h * h, Math.sin) });
    const unetMs = median(await timeRuns(unet, unetIn, warmup, reps));
    const vaeMs = median(await timeRuns(vae, vaeIn, warmup, reps));
    const perImage = (unetMs + vaeMs) / batch;
    sd.push({
      batch,
      unetStepMs: round(unetMs),
      vaeDecodeMs: round(vaeMs),
      msPerImage: round(perImage),
      imagesPerSec: round(1000 / perImage),
      anchorMsPerImage: ANCHOR.msPerImage,
      ratioToAnchor: round(perImage / ANCHOR.msPerImage),
    });
  }
  await unet.release();
  await vae.release();

  log('CLIP ViT-B/32 vision, batch 256…');
  const clip = await open('clip/onnx/vision_model.onnx');
  const S = CLIP_VIT_B32.vision_config.image_size;
  const pixels = new ort.Tensor(
    'float32',
    new Float32Array(256 * 3 * S * S).map((_, i) => Math.sin(i)),
    [256, 3, S, S],
  );
  const clipMs = median(await timeRuns(clip, { pixel_values: pixels }, warmup, reps));
  await clip.release();

  log('SD 2 text encoder, batch 1 and 8…');
  const text = await open('generator/text_encoder/model.onnx');
  const textRows: Record<string, number>[] = [];
  for (const batch of [1, 8]) {
    const ids = new ort.Tensor(
      'int32',
      Int32Array.from({ length: batch * 77 }, (_, i) => (i % 77 === 0 ? 0 : (i * 31) % 400)),
      [batch, 77],
    );
    const ms = median(await timeRuns(text, { input_ids: ids }, warmup, reps));
    textRows.push({ batch, ms: round(ms), promptsPerSec: round((1000 * batch) / ms) });
  }
  await text.release();

  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'gpu',
        startedAt: started.toISOString(),
        ran: true,
        machine,
        provider: 'cuda',
        dtype: {
          unet: 'float16',
          vaeDecoder: 'float16',
          textEncoder: 'float16',
          clipVision: 'float32',
        },
        notAvailable: NODE_BINDING_LIMITS,
        anchor: ANCHOR,
        sdTurboOneStep512: sd,
        clipVisionBatch256: { ms: round(clipMs), imagesPerSec: round((256 * 1000) / clipMs) },
        textEncoder: textRows,
        reps,
        warmup,
        models: models.graphs.map((g) => ({
          model: g.model,
          dtype: g.dtype,
          params: g.params,
          gflops: round((2 * g.macs) / 1e9, 1),
        })),
      },
      null,
      2,
    )}\n`,
  );
}

await main();
