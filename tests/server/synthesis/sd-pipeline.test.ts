import type ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inputDType } from '../../../src/core/ort/execution-device';
import {
  type GenerateOptions,
  StableDiffusionPipeline,
} from '../../../src/server/synthesis/sd-pipeline';
import { getTinyModels } from '../../helpers/tiny-models';

// Tiny generator: D = 32, 8×8 latents → 64×64 images. Its images mean nothing; these tests prove plumbing.
const D = 32;
const SIZE = 64;

/** Records the batch size of every UNet call made through the real session. */
function watchUnetBatches(pipeline: StableDiffusionPipeline): number[] {
  const batches: number[] = [];
  const session = pipeline.unet;
  const run = session.run.bind(session) as (
    feeds: ort.InferenceSession.FeedsType,
    fetches: string[],
  ) => Promise<ort.InferenceSession.ReturnType>;
  (session as { run: unknown }).run = (
    feeds: ort.InferenceSession.FeedsType,
    fetches: string[],
  ) => {
    batches.push(feeds.sample!.dims[0]!);
    return run(feeds, fetches);
  };
  return batches;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

describe('StableDiffusionPipeline on the tiny generator', () => {
  let pipeline: StableDiffusionPipeline;
  let negative: Float32Array;
  let prompts: Float32Array; // [2, 77, D]: two different prompts
  let base: GenerateOptions;

  beforeAll(async () => {
    const models = await getTinyModels();
    pipeline = await StableDiffusionPipeline.load(models.dirs.generator, { device: 'cpu' });
    negative = await pipeline.encodeNegative('');
    const a = await pipeline.encodeNegative('a red circle on a white background');
    const b = await pipeline.encodeNegative('a blue square on a dark background');
    prompts = new Float32Array(2 * 77 * D);
    prompts.set(a, 0);
    prompts.set(b, 77 * D);
    base = {
      conditioning: prompts.subarray(0, 77 * D),
      negative,
      guidance: 2,
      scheduler: 'pndm',
      steps: 4,
      height: SIZE,
      width: SIZE,
      seeds: [7],
    };
  });

  afterAll(async () => {
    await pipeline?.dispose();
  });

  it('reads the generator folder: conditioning dim, VAE scaling factor, CPU device', () => {
    expect(pipeline.conditioningDim).toBe(D);
    expect(pipeline.vaeScalingFactor).toBeCloseTo(0.18215, 6);
    expect(pipeline.device).toBe('cpu');
    expect(negative.length).toBe(77 * D);
  });

  it('makes one RGB image per seed at the requested size, in batches', async () => {
    const cond = new Float32Array(3 * 77 * D);
    for (let i = 0; i < 3; i++) cond.set(prompts.subarray(0, 77 * D), i * 77 * D);
    const batches = watchUnetBatches(pipeline);
    const steps: number[] = [];
    const r = await pipeline.generate({
      ...base,
      conditioning: cond,
      seeds: [1, 2, 3],
      batchSize: 2,
      onStep: (s) => steps.push(s.batch),
    });
    expect(r.images).toHaveLength(3);
    expect([r.width, r.height]).toEqual([SIZE, SIZE]);
    for (const img of r.images) expect(img.length).toBe(SIZE * SIZE * 3);
    // Two batches (2 + 1 images), each UNet call carries [uncond; cond].
    expect(new Set(batches)).toEqual(new Set([4, 2]));
    expect(new Set(steps)).toEqual(new Set([1, 2]));

    const wide = await pipeline.generate({ ...base, height: 48, width: 80 });
    expect([wide.width, wide.height]).toEqual([80, 48]);
    expect(wide.images[0]!.length).toBe(48 * 80 * 3);
  });

  it('is deterministic per seed and independent of the batch it runs in', async () => {
    const a = await pipeline.generate(base);
    const again = await pipeline.generate(base);
    const other = await pipeline.generate({ ...base, seeds: [8] });
    expect(bytesEqual(a.images[0]!, again.images[0]!)).toBe(true);
    expect(bytesEqual(a.images[0]!, other.images[0]!)).toBe(false);

    const cond = new Float32Array(2 * 77 * D);
    cond.set(base.conditioning, 0);
    cond.set(base.conditioning, 77 * D);
    const batched = await pipeline.generate({
      ...base,
      conditioning: cond,
      seeds: [8, 7],
      batchSize: 2,
    });
    expect(bytesEqual(batched.images[1]!, a.images[0]!)).toBe(true);
    expect(bytesEqual(batched.images[0]!, other.images[0]!)).toBe(true);
  });

  it('ancestral sampling is also reproducible per seed', async () => {
    const opts = { ...base, scheduler: 'euler-ancestral' as const };
    const a = await pipeline.generate(opts);
    const b = await pipeline.generate(opts);
    const c = await pipeline.generate({ ...opts, seeds: [8] });
    expect(bytesEqual(a.images[0]!, b.images[0]!)).toBe(true);
    expect(bytesEqual(a.images[0]!, c.images[0]!)).toBe(false);
  });

  it('the conditioning drives the image', async () => {
    const a = await pipeline.generate(base);
    const b = await pipeline.generate({ ...base, conditioning: prompts.subarray(77 * D) });
    expect(meanAbsDiff(a.images[0]!, b.images[0]!)).toBeGreaterThan(0.5);
  });

  it('guidance > 1 batches [uncond; cond] and changes the image; guidance <= 1 skips the unconditional half', async () => {
    const batches = watchUnetBatches(pipeline);
    const g1 = await pipeline.generate({ ...base, guidance: 1 });
    expect(batches.every((b) => b === 1)).toBe(true);
    batches.length = 0;
    const g3 = await pipeline.generate({ ...base, guidance: 3 });
    expect(batches.every((b) => b === 2)).toBe(true);
    expect(bytesEqual(g1.images[0]!, g3.images[0]!)).toBe(false);

    // Without guidance the negative embedding plays no part; with it, it does.
    const otherNegative = prompts.subarray(77 * D);
    const g1b = await pipeline.generate({ ...base, guidance: 1, negative: otherNegative });
    expect(bytesEqual(g1.images[0]!, g1b.images[0]!)).toBe(true);
    const g3b = await pipeline.generate({ ...base, guidance: 3, negative: otherNegative });
    expect(bytesEqual(g3.images[0]!, g3b.images[0]!)).toBe(false);
  });

  it('runs every scheduler, turbo in one step', async () => {
    for (const scheduler of ['pndm', 'ddim', 'euler', 'euler-ancestral', 'turbo'] as const) {
      const before = pipeline.stats.unetRuns;
      const steps = scheduler === 'turbo' ? 1 : 3;
      const r = await pipeline.generate({
        ...base,
        scheduler,
        steps,
        guidance: scheduler === 'turbo' ? 0 : 2,
      });
      expect(r.images[0]!.length).toBe(SIZE * SIZE * 3);
      // PNDM (PLMS) repeats its second timestep: one UNet call more than the steps asked.
      expect(pipeline.stats.unetRuns - before).toBe(scheduler === 'pndm' ? steps + 1 : steps);
    }
  });

  it('stops at the next step when aborted, and does not start when already aborted', async () => {
    const controller = new AbortController();
    const before = pipeline.stats.unetRuns;
    const run = pipeline.generate({
      ...base,
      steps: 20,
      signal: controller.signal,
      onStep: (s) => {
        if (s.step === 2) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(pipeline.stats.unetRuns - before).toBe(2);

    const vaeBefore = pipeline.stats.vaeRuns;
    const unetBefore = pipeline.stats.unetRuns;
    await expect(pipeline.generate({ ...base, signal: AbortSignal.abort() })).rejects.toMatchObject(
      { name: 'AbortError' },
    );
    expect(pipeline.stats.unetRuns).toBe(unetBefore);
    expect(pipeline.stats.vaeRuns).toBe(vaeBefore);
  });

  it('rejects conditioning of the wrong width or count with a message that says why', async () => {
    await expect(
      pipeline.generate({
        ...base,
        conditioning: new Float32Array(77 * 16),
        negative: new Float32Array(77 * 16),
      }),
    ).rejects.toThrow(/D = 16 .* takes D = 32/);
    await expect(pipeline.generate({ ...base, seeds: [1, 2] })).rejects.toThrow(
      /1 rows of \[77, 32\] but 2 seeds/,
    );
    await expect(pipeline.generate({ ...base, height: 60 })).rejects.toThrow(/multiple of 8/);
  });
});

describe('dtype detection on other exports', () => {
  async function runVariant(variant: { fp16?: boolean; timestepType?: 'float' | 'int64' }) {
    const models = await getTinyModels(variant);
    const p = await StableDiffusionPipeline.load(models.dirs.generator, { device: 'cpu' });
    try {
      const negative = await p.encodeNegative('');
      const cond = await p.encodeNegative('a red circle on a white background');
      const r = await p.generate({
        conditioning: cond,
        negative,
        guidance: 2,
        scheduler: 'pndm',
        steps: 4,
        height: SIZE,
        width: SIZE,
        seeds: [7],
      });
      return {
        image: r.images[0]!,
        timestep: inputDType(p.unet, 'timestep'),
        sample: inputDType(p.unet, 'sample'),
      };
    } finally {
      await p.dispose();
    }
  }

  it('fp16 exports (float16 sample, timestep, hidden states) and int64-timestep exports run and agree with float32', async () => {
    const f32 = await runVariant({});
    const f16 = await runVariant({ fp16: true });
    const i64 = await runVariant({ timestepType: 'int64' });
    expect([f16.sample, f16.timestep]).toEqual(['float16', 'float16']);
    expect([i64.sample, i64.timestep]).toEqual(['float32', 'int64']);
    expect(f32.timestep).toBe('float32');
    // PNDM's timesteps are whole numbers, so an int64 timestep must give exactly the float32 result.
    expect(bytesEqual(i64.image, f32.image)).toBe(true);
    // Half precision rounds inputs and outputs at every step: close, not equal.
    expect(f16.image.length).toBe(f32.image.length);
    expect(meanAbsDiff(f16.image, f32.image)).toBeLessThan(2);
  });
});
