import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { throwIfAborted } from '../../core/image/abortable';
import { loadTextEncoder, TEXT_SEQUENCE_LENGTH } from '../../core/inference/text-encoder';
import { DEFAULT_VAE_SCALING_FACTOR, VAE_FACTOR } from '../../core/models/generator-geometry';
import { modelDigest } from '../../core/models/model-digest';
import {
  createSession,
  type DeviceChoice,
  inputDType,
  inputShape,
  type OrtProvider,
  type SessionOptions,
} from '../../core/ort/execution-device';
import { nodeFeeds } from '../../core/ort/float16';
import { tensorToFloat32 } from '../../core/ort/tensor-float32';
import { classifierFreeGuidance, usesGuidance } from './classifier-free-guidance';
import { decodedToRgb } from './decoded-to-rgb';
import { floatFeed, timestepFeed } from './ort-feeds';
import { createScheduler } from './schedulers/create-scheduler';
import type { Scheduler, SchedulerName } from './schedulers/scheduler';
import { parseSchedulerConfig, type SchedulerConfig } from './schedulers/scheduler-config';
import { createSeededRandom, type SynthesisRandom } from './schedulers/seeded-random';

const L = TEXT_SEQUENCE_LENGTH;
const LATENT_CHANNELS = 4;

export type LoadPipelineOptions = {
  device: DeviceChoice;
  /** Images per UNet batch when `generate` is not told otherwise (the UNet runs 2 × this with guidance). Default 1. */
  batchSize?: number;
  sessionOptions?: SessionOptions;
  /**
   * The study's conditioning encoder (text_encoder/ + tokenizer/) when it is not the generator's
   * own, e.g. a CPU-portable export: the unconditional embedding must come from the encoder that
   * made the sites' conditioning. Default: the generator folder.
   */
  encoderDir?: string;
};

export type PipelineStep = {
  /** 1-based UNet step within the current batch, of `steps` (PNDM runs one more than asked). */
  step: number;
  steps: number;
  /** 1-based batch index and count. */
  batch: number;
  batches: number;
  /** Images in this batch. */
  images: number;
};

export type GenerateOptions = {
  /** Row-major [B, 77, D]: one conditioning per image. */
  conditioning: Float32Array;
  /** [77, D]: the unconditional / negative-prompt embedding (see `encodeNegative`). */
  negative: Float32Array;
  /** Classifier-free guidance scale; <= 1 runs the conditional half only. */
  guidance: number;
  scheduler: SchedulerName;
  steps: number;
  /** Pixels; multiples of 8. */
  height: number;
  width: number;
  /** One per image: the image depends on its own seed only, not on what else is in the batch. */
  seeds: readonly number[];
  /** Overrides the pipeline's batch size for this call. */
  batchSize?: number;
  signal?: AbortSignal;
  onStep?: (s: PipelineStep) => void;
};

export type GenerateResult = {
  /** One per seed, in order: RGB, row-major H × W × 3. */
  images: Uint8Array[];
  width: number;
  height: number;
  /** Wall time in the denoising loops and in VAE decoding. */
  timings: { denoiseMs: number; decodeMs: number };
};

/** Counters since load: what actually ran (a resumed job can prove it redid nothing). */
export type PipelineStats = { unetRuns: number; vaeRuns: number; images: number };

type UnetIo = {
  sampleType: ort.Tensor.Type;
  timestepType: ort.Tensor.Type;
  timestepShape: ReadonlyArray<number | string>;
  hiddenType: ort.Tensor.Type;
  output: string;
};

type VaeIo = { latentType: ort.Tensor.Type; output: string };

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); fix or re-export the generator folder.`,
      { cause: err },
    );
  }
}

function numberField(json: unknown, key: string): number | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const v = (json as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function requireInputs(
  session: ort.InferenceSession,
  file: string,
  names: readonly string[],
): void {
  const missing = names.filter((n) => !session.inputNames.includes(n));
  if (missing.length > 0) {
    throw new Error(
      `${file} has no input ${missing.join(', ')} (it has ${session.inputNames.join(', ')}); ` +
        'expected a diffusers-ONNX export (OnnxStableDiffusionPipeline layout).',
    );
  }
}

function outputName(session: ort.InferenceSession, preferred: string): string {
  return session.outputNames.includes(preferred) ? preferred : session.outputNames[0]!;
}

/**
 * Stable Diffusion text-to-image on onnxruntime-node, from a diffusers-ONNX generator folder
 * (unet/, vae_decoder/, scheduler/, text_encoder/ + tokenizer/ for the negative prompt).
 * Conditioning comes in as embeddings (the sites' packages), never as prompts.
 */
export class StableDiffusionPipeline {
  readonly stats: PipelineStats = { unetRuns: 0, vaeRuns: 0, images: 0 };
  private digest: Promise<string> | null = null;

  private constructor(
    readonly generatorDir: string,
    /** The provider the sessions run on (recorded in reports). */
    readonly device: OrtProvider,
    /** Set when `auto` fell back to CPU: one line for the log. */
    readonly fallbackMessage: string | undefined,
    /** Exposed for benchmarks that time raw `run` calls on the very same sessions. */
    readonly unet: ort.InferenceSession,
    readonly vaeDecoder: ort.InferenceSession,
    readonly schedulerConfig: SchedulerConfig,
    readonly vaeScalingFactor: number,
    /** Hidden size D the UNet's encoder_hidden_states takes, when the graph or unet/config.json says. */
    readonly conditioningDim: number | null,
    private readonly unetIo: UnetIo,
    private readonly vaeIo: VaeIo,
    /** Images per UNet batch unless a call says otherwise. */
    readonly batchSize: number,
    /** Where the text encoder for the negative prompt is (the study's conditioning encoder). */
    readonly encoderDir: string,
  ) {}

  static async load(
    generatorDir: string,
    opts: LoadPipelineOptions,
  ): Promise<StableDiffusionPipeline> {
    const batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batchSize must be a whole number >= 1 (got ${batchSize}).`);
    const schedulerFile = path.join(generatorDir, 'scheduler', 'scheduler_config.json');
    const schedulerJson = await readJson(schedulerFile);
    if (schedulerJson === undefined) {
      throw new Error(
        `${schedulerFile} is missing: copy the complete diffusers-ONNX generator folder.`,
      );
    }
    const schedulerConfig = parseSchedulerConfig(schedulerJson, schedulerFile);
    const vaeConfig = await readJson(path.join(generatorDir, 'vae_decoder', 'config.json'));
    const unetConfig = await readJson(path.join(generatorDir, 'unet', 'config.json'));
    const vaeScalingFactor = numberField(vaeConfig, 'scaling_factor') ?? DEFAULT_VAE_SCALING_FACTOR;

    const unetFile = path.join(generatorDir, 'unet', 'model.onnx');
    const vaeFile = path.join(generatorDir, 'vae_decoder', 'model.onnx');
    // ORT's CPU arena keeps each session's activation high-water mark for the process's life: with
    // the real SD 2 UNet and VAE that held 9.5 GB instead of 6.3 GB (docs/benchmarks.md, "Server at
    // real size"). Off unless the caller says otherwise; the GPU providers keep their own arenas.
    const sessionOptions: SessionOptions = { enableCpuMemArena: false, ...opts.sessionOptions };
    const created = await createSession(unetFile, opts.device, { sessionOptions });
    const unet = created.session;
    let vae: ort.InferenceSession | undefined;
    try {
      requireInputs(unet, unetFile, ['sample', 'timestep', 'encoder_hidden_states']);
      // The VAE goes where the UNet went: `auto` must not probe the GPU twice or split devices.
      vae = (await createSession(vaeFile, created.device, { sessionOptions })).session;
      requireInputs(vae, vaeFile, ['latent_sample']);
      const declaredDim = inputShape(unet, 'encoder_hidden_states')[2];
      const conditioningDim =
        typeof declaredDim === 'number' && declaredDim > 0
          ? declaredDim
          : (numberField(unetConfig, 'cross_attention_dim') ?? null);
      const unetIo: UnetIo = {
        sampleType: inputDType(unet, 'sample'),
        timestepType: inputDType(unet, 'timestep'),
        timestepShape: inputShape(unet, 'timestep'),
        hiddenType: inputDType(unet, 'encoder_hidden_states'),
        output: outputName(unet, 'out_sample'),
      };
      const vaeIo: VaeIo = {
        latentType: inputDType(vae, 'latent_sample'),
        output: outputName(vae, 'sample'),
      };
      return new StableDiffusionPipeline(
        generatorDir,
        created.device,
        created.fallbackMessage,
        unet,
        vae,
        schedulerConfig,
        vaeScalingFactor,
        conditioningDim,
        unetIo,
        vaeIo,
        batchSize,
        opts.encoderDir ?? generatorDir,
      );
    } catch (err) {
      await unet.release();
      await vae?.release();
      throw err;
    }
  }

  /** The generator folder's digest (core model-digest, role generator), computed once: recorded beside every image. */
  modelDigest(): Promise<string> {
    this.digest ??= modelDigest(this.generatorDir, 'generator');
    return this.digest;
  }

  /**
   * The [77, D] embedding of the negative prompt ('' = unconditional), from the server's own copy of
   * the generator's text encoder. Loaded for this call only: its memory is the UNet's during synthesis.
   */
  async encodeNegative(prompt: string): Promise<Float32Array> {
    const encoder = await loadTextEncoder(this.encoderDir, { device: this.device });
    try {
      if (this.conditioningDim !== null && encoder.dim !== this.conditioningDim) {
        throw new Error(
          `${this.encoderDir}: the text encoder gives D = ${encoder.dim} but the UNet in ${this.generatorDir} takes D = ${this.conditioningDim}; they are two different models.`,
        );
      }
      return await encoder.encode([prompt]);
    } finally {
      await encoder.dispose();
    }
  }

  async generate(opts: GenerateOptions): Promise<GenerateResult> {
    const { height, width, seeds, guidance, steps } = opts;
    const count = seeds.length;
    if (count < 1) throw new Error('generate: pass at least one seed (one per image).');
    for (const [name, v] of [
      ['height', height],
      ['width', width],
    ] as const) {
      if (!Number.isInteger(v) || v < VAE_FACTOR || v % VAE_FACTOR !== 0) {
        throw new Error(
          `generate: ${name} must be a positive multiple of ${VAE_FACTOR} pixels (got ${v}).`,
        );
      }
    }
    if (!Number.isInteger(steps) || steps < 1)
      throw new Error(`generate: steps must be a whole number >= 1 (got ${steps}).`);
    if (!Number.isFinite(guidance) || guidance < 0)
      throw new Error(`generate: guidance must be a number >= 0 (got ${guidance}).`);
    const dim = this.conditioningDim ?? opts.conditioning.length / (count * L);
    if (!Number.isInteger(dim) || dim < 1) {
      throw new Error(
        `generate: conditioning has ${opts.conditioning.length} values, not ${count} × ${L} × D for ${count} seeds.`,
      );
    }
    if (opts.conditioning.length !== count * L * dim) {
      const rows = opts.conditioning.length / (L * dim);
      const otherDim = opts.conditioning.length / (count * L);
      throw new Error(
        Number.isInteger(rows)
          ? `generate: conditioning holds ${rows} rows of [${L}, ${dim}] but ${count} seeds were given; pass one seed per image.`
          : Number.isInteger(otherDim)
            ? `generate: conditioning has D = ${otherDim} but this generator's UNet takes D = ${dim}; the package was made with another study's encoder.`
            : `generate: conditioning has ${opts.conditioning.length} values, not ${count} × ${L} × ${dim} for ${count} seeds.`,
      );
    }
    if (opts.negative.length !== L * dim) {
      throw new Error(
        `generate: negative embedding has ${opts.negative.length} values, expected ${L} × ${dim}.`,
      );
    }
    const batchSize = opts.batchSize ?? this.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`generate: batchSize must be a whole number >= 1 (got ${batchSize}).`);

    const images: Uint8Array[] = [];
    const timings = { denoiseMs: 0, decodeMs: 0 };
    const batches = Math.ceil(count / batchSize);
    for (let b = 0; b < batches; b++) {
      const start = b * batchSize;
      const n = Math.min(batchSize, count - start);
      const t0 = performance.now();
      const latents = await this.denoise(opts, dim, start, n, (step, total) =>
        opts.onStep?.({ step, steps: total, batch: b + 1, batches, images: n }),
      );
      const t1 = performance.now();
      for (const z of latents) {
        throwIfAborted(opts.signal);
        images.push(await this.decode(z, height, width));
      }
      timings.denoiseMs += t1 - t0;
      timings.decodeMs += performance.now() - t1;
      this.stats.images += n;
    }
    return { images, width, height, timings };
  }

  /** Denoises images start..start+n-1 together; returns each image's final latents [4, h, w]. */
  private async denoise(
    opts: GenerateOptions,
    dim: number,
    start: number,
    n: number,
    onStep: (step: number, total: number) => void,
  ): Promise<Float32Array[]> {
    const h = opts.height / VAE_FACTOR;
    const w = opts.width / VAE_FACTOR;
    const size = LATENT_CHANNELS * h * w;
    const cfg = usesGuidance(opts.guidance);
    const unetBatch = cfg ? 2 * n : n;
    const io = this.unetIo;

    // One generator and one scheduler per image: its noise (initial and ancestral) depends on its seed alone.
    const rngs: SynthesisRandom[] = [];
    const schedulers: Scheduler[] = [];
    let latents: Float32Array[] = [];
    for (let i = 0; i < n; i++) {
      const rng = createSeededRandom(opts.seeds[start + i]!);
      const scheduler = createScheduler(opts.scheduler, this.schedulerConfig, opts.steps);
      const z = rng.normals(size);
      for (let k = 0; k < size; k++) z[k]! *= scheduler.initNoiseSigma;
      rngs.push(rng);
      schedulers.push(scheduler);
      latents.push(z);
    }

    // As diffusers batches it: [uncond × n; cond × n], one UNet call per step.
    const rowSize = L * dim;
    const hidden = new Float32Array(unetBatch * rowSize);
    const cond = opts.conditioning.subarray(start * rowSize, (start + n) * rowSize);
    if (cfg) {
      for (let i = 0; i < n; i++) hidden.set(opts.negative, i * rowSize);
      hidden.set(cond, n * rowSize);
    } else {
      hidden.set(cond);
    }
    const hiddenFeed = floatFeed(
      hidden,
      io.hiddenType,
      [unetBatch, L, dim],
      'encoder_hidden_states',
    );

    const timesteps = schedulers[0]!.timesteps;
    for (const [k, t] of timesteps.entries()) {
      throwIfAborted(opts.signal);
      const input = new Float32Array(unetBatch * size);
      for (let i = 0; i < n; i++) {
        const scaled = schedulers[i]!.scaleModelInput(latents[i]!, t);
        input.set(scaled, i * size);
        if (cfg) input.set(scaled, (n + i) * size);
      }
      const feeds = nodeFeeds({
        sample: floatFeed(input, io.sampleType, [unetBatch, LATENT_CHANNELS, h, w], 'sample'),
        timestep: timestepFeed(t, io.timestepType, io.timestepShape, unetBatch),
        encoder_hidden_states: hiddenFeed,
      });
      const out = await this.unet.run(feeds, [io.output]);
      this.stats.unetRuns += 1;
      const eps = tensorToFloat32(out[io.output]!);
      if (eps.length !== unetBatch * size) {
        throw new Error(
          `The UNet returned ${eps.length} values for a [${unetBatch}, 4, ${h}, ${w}] sample; expected the same shape back.`,
        );
      }
      latents = latents.map((z, i) => {
        const c = eps.subarray((cfg ? n + i : i) * size, (cfg ? n + i + 1 : i + 1) * size);
        const noisePred = cfg
          ? classifierFreeGuidance(eps.subarray(i * size, (i + 1) * size), c, opts.guidance)
          : c;
        return schedulers[i]!.step(noisePred, t, z, rngs[i]!.normal);
      });
      onStep(k + 1, timesteps.length);
    }
    return latents;
  }

  /** VAE-decodes one image's latents (one at a time: a full-size SD decode in a batch needs gigabytes). */
  private async decode(latents: Float32Array, height: number, width: number): Promise<Uint8Array> {
    const z = new Float32Array(latents.length);
    const inv = 1 / this.vaeScalingFactor;
    for (let k = 0; k < z.length; k++) z[k] = latents[k]! * inv;
    const feed = floatFeed(
      z,
      this.vaeIo.latentType,
      [1, LATENT_CHANNELS, height / VAE_FACTOR, width / VAE_FACTOR],
      'latent_sample',
    );
    const out = await this.vaeDecoder.run(nodeFeeds({ latent_sample: feed }), [this.vaeIo.output]);
    this.stats.vaeRuns += 1;
    const image = out[this.vaeIo.output]!;
    const [b, c, hh, ww] = image.dims;
    if (image.dims.length !== 4 || b !== 1 || c !== 3 || hh !== height || ww !== width) {
      throw new Error(
        `The VAE decoder returned shape [${image.dims.join(', ')}], expected [1, 3, ${height}, ${width}].`,
      );
    }
    return decodedToRgb(tensorToFloat32(image), height, width);
  }

  async dispose(): Promise<void> {
    await this.unet.release();
    await this.vaeDecoder.release();
  }
}
