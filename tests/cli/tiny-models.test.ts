import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  RawImage,
  env,
  pipeline,
} from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command';
import { modelsMakeTinyCommand } from '../../src/cli/commands/models-make-tiny';
import {
  TINY_MODELS_MANIFEST,
  makeTinyModels,
  readTinyModels,
  tinyModelFiles,
} from '../../src/cli/tiny-models/make-tiny-models';
import { resolveTinyModelOptions } from '../../src/cli/tiny-models/tiny-model-options';
import { recordingContext } from '../helpers/command-context';
import { type TinyModels, getTinyModels } from '../helpers/tiny-models';

env.allowRemoteModels = false;
env.allowLocalModels = true;

function solid(rgb: [number, number, number], w = 120, h = 90): RawImage {
  const data = new Uint8ClampedArray(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return new RawImage(data, w, h, 3);
}

function checkerboard(w = 120, h = 90): RawImage {
  const data = new Uint8ClampedArray(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      data.fill(((x >> 3) + (y >> 3)) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
  return new RawImage(data, w, h, 3);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

function row(data: ArrayLike<number>, i: number, width: number): number[] {
  return Array.from({ length: width }, (_, j) => data[i * width + j]!);
}

/** ORT on Node ≥ 24 turns a Uint16Array into a Float16Array the native binding rejects; set cpuData back (as transformers.js does). */
function float16Tensor(values: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  const bits = new Uint16Array(Float16Array.from(values).buffer);
  const t = new ort.Tensor('float16', bits, dims);
  (t as unknown as { cpuData: Uint16Array }).cpuData = bits;
  return t;
}

function meta(session: ort.InferenceSession, which: 'input' | 'output'): string[] {
  const list = which === 'input' ? session.inputMetadata : session.outputMetadata;
  return list.map((m) => (m.isTensor ? `${m.name}:${m.type}[${m.shape.join(',')}]` : m.name));
}

let models: TinyModels;
beforeAll(async () => {
  models = await getTinyModels();
});

describe('tiny models: determinism and files', () => {
  it('gives byte-identical files for the same options and different weights for another seed', () => {
    const o = resolveTinyModelOptions({ seed: 7 });
    const a = tinyModelFiles(o);
    const b = tinyModelFiles(o);
    expect([...a.keys()]).toEqual([...b.keys()]);
    for (const [path, bytes] of a)
      expect(Buffer.compare(Buffer.from(bytes), Buffer.from(b.get(path)!)), path).toBe(0);
    const other = tinyModelFiles(resolveTinyModelOptions({ seed: 8 }));
    expect(
      Buffer.from(other.get('clip/onnx/vision_model.onnx')!).equals(
        Buffer.from(a.get('clip/onnx/vision_model.onnx')!),
      ),
    ).toBe(false);
    // Tokenizers do not depend on the seed.
    expect(
      Buffer.from(other.get('clip/tokenizer.json')!).equals(
        Buffer.from(a.get('clip/tokenizer.json')!),
      ),
    ).toBe(true);
  });

  it('writes the same bytes twice to disk, and the manifest matches the files', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'fgl-tiny-'));
    try {
      const one = await makeTinyModels(join(tmp, 'one'), { seed: 3 });
      const two = await makeTinyModels(join(tmp, 'two'), { seed: 3 });
      expect(two.files).toEqual(one.files);
      expect(one.files.length).toBeGreaterThan(20);
      for (const f of one.files) {
        const bytes = await readFile(join(one.root, f.path));
        expect(bytes.length, f.path).toBe(f.bytes);
      }
      expect((await readTinyModels(one.root)).files).toEqual(one.files);
      await expect(makeTinyModels(join(tmp, 'one'))).rejects.toThrow(/already exists/);
      const replaced = await makeTinyModels(join(tmp, 'one'), { seed: 4, overwrite: true });
      expect(replaced.options.seed).toBe(4);
      expect((await readTinyModels(join(tmp, 'one'))).options.seed).toBe(4);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('lets exactly one of two concurrent writers win, leaving a complete folder and no temp files', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'fgl-tiny-race-'));
    try {
      const target = join(tmp, 'models');
      const settled = await Promise.allSettled([makeTinyModels(target), makeTinyModels(target)]);
      const won = settled.filter((s) => s.status === 'fulfilled');
      const lost = settled.filter((s) => s.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(['ENOTEMPTY', 'EEXIST', 'EPERM']).toContain(
        ((lost[0] as PromiseRejectedResult).reason as NodeJS.ErrnoException).code,
      );
      expect(await readdir(tmp)).toEqual(['models']);
      const back = await readTinyModels(target);
      for (const f of back.files)
        expect((await stat(join(target, f.path))).size, f.path).toBe(f.bytes);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('has the real layouts and marks every config as tiny', async () => {
    const paths = models.files.map((f) => f.path);
    for (const p of [
      'clip/config.json',
      'clip/tokenizer.json',
      'clip/tokenizer_config.json',
      'clip/special_tokens_map.json',
      'clip/preprocessor_config.json',
      'clip/onnx/text_model.onnx',
      'clip/onnx/vision_model.onnx',
      'captioner/config.json',
      'captioner/generation_config.json',
      'captioner/onnx/encoder_model.onnx',
      'captioner/onnx/decoder_model_merged.onnx',
      'generator/model_index.json',
      'generator/tokenizer/vocab.json',
      'generator/tokenizer/merges.txt',
      'generator/tokenizer/tokenizer.json',
      'generator/text_encoder/model.onnx',
      'generator/unet/model.onnx',
      'generator/vae_decoder/model.onnx',
      'generator/scheduler/scheduler_config.json',
    ])
      expect(paths).toContain(p);
    for (const p of [
      'clip/config.json',
      'captioner/config.json',
      'generator/model_index.json',
      'generator/unet/config.json',
    ]) {
      const json = JSON.parse(await readFile(join(models.root, p), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(json._fgl_tiny, p).toBeDefined();
    }
    const scheduler = JSON.parse(
      await readFile(join(models.dirs.generator, 'scheduler', 'scheduler_config.json'), 'utf8'),
    );
    expect(scheduler).toMatchObject({
      _class_name: 'PNDMScheduler',
      beta_start: 0.00085,
      beta_end: 0.012,
      beta_schedule: 'scaled_linear',
      num_train_timesteps: 1000,
      steps_offset: 1,
      skip_prk_steps: true,
      set_alpha_to_one: false,
      prediction_type: 'epsilon',
    });
    expect(
      JSON.parse(await readFile(join(models.dirs.generator, 'model_index.json'), 'utf8'))
        ._class_name,
    ).toBe('OnnxStableDiffusionPipeline');
  });

  it('rejects options it cannot build, saying what is allowed', () => {
    expect(() => resolveTinyModelOptions({ imageSize: 100 })).toThrow(/multiple of 32/);
    expect(() => resolveTinyModelOptions({ textHiddenDim: 0 })).toThrow(
      /textHiddenDim must be an integer/,
    );
    expect(resolveTinyModelOptions({ preset: 'bench' })).toMatchObject({
      textHiddenDim: 1024,
      latentSize: 64,
    });
  });
});

describe('tiny CLIP through transformers.js', () => {
  it('loads with the production classes and embeds images by colour', async () => {
    env.localModelPath = models.root; // load by id "clip", as an air-gapped install would
    const vision = await CLIPVisionModelWithProjection.from_pretrained('clip', {
      local_files_only: true,
    });
    const processor = await AutoProcessor.from_pretrained('clip', { local_files_only: true });
    const P = models.options.projectionDim;

    const embed = async (img: RawImage) => {
      const inputs = await processor(img);
      expect(inputs.pixel_values.dims).toEqual([1, 3, 224, 224]);
      const out = await vision(inputs);
      expect(out.image_embeds.dims).toEqual([1, P]);
      expect(out.last_hidden_state.dims).toEqual([1, 50, 32]);
      return Array.from(out.image_embeds.data as Float32Array);
    };
    const red = await embed(solid([220, 30, 30]));
    const redAgain = await embed(solid([220, 30, 30]));
    const nearRed = await embed(solid([210, 40, 35]));
    const blue = await embed(solid([30, 50, 220]));
    expect(redAgain).toEqual(red);
    expect(cosine(red, nearRed)).toBeGreaterThan(0.99);
    expect(cosine(red, blue)).toBeLessThan(0.5);
  });

  it('embeds text with the production tokenizer; colour words land near their colour', async () => {
    const text = await CLIPTextModelWithProjection.from_pretrained(models.dirs.clip, {
      local_files_only: true,
    });
    const vision = await CLIPVisionModelWithProjection.from_pretrained(models.dirs.clip, {
      local_files_only: true,
    });
    const processor = await AutoProcessor.from_pretrained(models.dirs.clip, {
      local_files_only: true,
    });
    const tokenizer = await AutoTokenizer.from_pretrained(models.dirs.clip, {
      local_files_only: true,
    });
    const P = models.options.projectionDim;

    const prompts = [
      'a photo of red',
      'a photo of blue',
      'Ein Röntgenbild, 3 Läsionen — über 90%!',
    ];
    const inputs = tokenizer(prompts, { padding: true, truncation: true });
    expect(inputs.input_ids.type).toBe('int64');
    const out = await text(inputs);
    expect(out.text_embeds.dims).toEqual([3, P]);
    expect(out.last_hidden_state.dims).toEqual([3, inputs.input_ids.dims[1], 32]);
    const t = out.text_embeds.data as Float32Array;

    const red = (await vision(await processor(solid([220, 30, 30])))).image_embeds
      .data as Float32Array;
    const blue = (await vision(await processor(solid([30, 50, 220])))).image_embeds
      .data as Float32Array;
    expect(cosine(row(t, 0, P), red)).toBeGreaterThan(cosine(row(t, 0, P), blue));
    expect(cosine(row(t, 1, P), blue)).toBeGreaterThan(cosine(row(t, 1, P), red));
    expect(row(t, 2, P).every(Number.isFinite)).toBe(true);
  });
});

describe('tiny captioner through transformers.js', () => {
  it('runs pipeline("image-to-text") and names the colour and texture', async () => {
    const captioner = await pipeline('image-to-text', models.dirs.captioner, {
      local_files_only: true,
    });
    const caption = async (img: RawImage) => {
      const out = (await captioner(img)) as { generated_text: string }[];
      return out[0]!.generated_text;
    };
    expect(await caption(solid([220, 30, 30]))).toBe('a plain red image');
    expect(await caption(solid([30, 50, 220]))).toBe('a plain blue image');
    expect(await caption(checkerboard())).toBe('a textured gray image');
  });
});

describe('tiny generator through onnxruntime-node', () => {
  it('has the diffusers-ONNX tensor names, dtypes and shapes, and a 77-token tokenizer', async () => {
    const D = models.options.textHiddenDim;
    const L = models.options.latentSize;
    const dir = models.dirs.generator;
    const tokenizer = await AutoTokenizer.from_pretrained(join(dir, 'tokenizer'), {
      local_files_only: true,
    });
    const enc = tokenizer(['a photo of a chest x-ray', 'a photo of a cat'], {
      padding: 'max_length',
      max_length: 77,
      truncation: true,
    });
    expect(enc.input_ids.dims).toEqual([2, 77]);
    expect(tokenizer.pad_token).toBe('!');
    const ids = Int32Array.from(enc.input_ids.data as BigInt64Array, Number);

    const textEncoder = await ort.InferenceSession.create(join(dir, 'text_encoder', 'model.onnx'));
    expect(meta(textEncoder, 'input')).toEqual(['input_ids:int32[batch,sequence]']);
    expect(meta(textEncoder, 'output')).toEqual([
      `last_hidden_state:float32[batch,sequence,${D}]`,
      `pooler_output:float32[batch,${D}]`,
    ]);
    const cond = await textEncoder.run({ input_ids: new ort.Tensor('int32', ids, [2, 77]) });
    expect(cond.last_hidden_state!.dims).toEqual([2, 77, D]);
    expect(cond.pooler_output!.dims).toEqual([2, D]);
    const hs = cond.last_hidden_state!.data as Float32Array;
    expect(row(hs, 76, D)).not.toEqual(row(hs, 77 + 76, D)); // padding rows still carry the prompt

    const unet = await ort.InferenceSession.create(join(dir, 'unet', 'model.onnx'));
    expect(meta(unet, 'input')).toEqual([
      'sample:float32[batch,4,height,width]',
      'timestep:float32[batch]',
      `encoder_hidden_states:float32[batch,sequence,${D}]`,
    ]);
    expect(meta(unet, 'output')).toEqual(['out_sample:float32[batch,4,height,width]']);
    const latents = new ort.Tensor(
      'float32',
      Float32Array.from({ length: 2 * 4 * L * L }, (_, i) => Math.sin(i)),
      [2, 4, L, L],
    );
    const step = async (t: number, ehs: ort.Tensor) =>
      (
        await unet.run({
          sample: latents,
          timestep: new ort.Tensor('float32', Float32Array.of(t), [1]),
          encoder_hidden_states: ehs,
        })
      ).out_sample!;
    const a = await step(981, cond.last_hidden_state!);
    expect(a.dims).toEqual([2, 4, L, L]);
    const swapped = new ort.Tensor(
      'float32',
      Float32Array.from([...hs.slice(77 * D), ...hs.slice(0, 77 * D)]),
      [2, 77, D],
    );
    expect(Array.from(a.data as Float32Array)).not.toEqual(
      Array.from((await step(981, swapped)).data as Float32Array),
    );
    expect(Array.from(a.data as Float32Array)).not.toEqual(
      Array.from((await step(1, cond.last_hidden_state!)).data as Float32Array),
    );

    const vae = await ort.InferenceSession.create(join(dir, 'vae_decoder', 'model.onnx'));
    expect(meta(vae, 'input')).toEqual(['latent_sample:float32[batch,4,height,width]']);
    expect(vae.outputNames).toEqual(['sample']);
    const image = (
      await vae.run({
        latent_sample: new ort.Tensor(
          'float32',
          Float32Array.from(a.data as Float32Array, (v) => v / 0.18215),
          [2, 4, L, L],
        ),
      })
    ).sample!;
    expect(image.dims).toEqual([2, 3, 8 * L, 8 * L]);
    const px = image.data as Float32Array;
    expect(px.every((v) => v > -1 && v < 1)).toBe(true);
    expect(Math.max(...px) - Math.min(...px)).toBeGreaterThan(0.2);
  });

  it('emits float16 inputs/outputs and an int64 timestep when asked', async () => {
    const fp16 = await getTinyModels({ fp16: true, timestepType: 'int64' });
    const D = fp16.options.textHiddenDim;
    const unet = await ort.InferenceSession.create(join(fp16.dirs.generator, 'unet', 'model.onnx'));
    expect(meta(unet, 'input')).toEqual([
      'sample:float16[batch,4,height,width]',
      'timestep:int64[batch]',
      `encoder_hidden_states:float16[batch,sequence,${D}]`,
    ]);
    const out = await unet.run({
      sample: float16Tensor(
        Array.from({ length: 4 * 64 }, (_, i) => Math.cos(i)),
        [1, 4, 8, 8],
      ),
      timestep: new ort.Tensor('int64', BigInt64Array.of(500n), [1]),
      encoder_hidden_states: float16Tensor(new Array(77 * D).fill(0.1), [1, 77, D]),
    });
    expect(out.out_sample!.type).toBe('float16');
    const te = await ort.InferenceSession.create(
      join(fp16.dirs.generator, 'text_encoder', 'model.onnx'),
    );
    expect(meta(te, 'output')[0]).toBe(`last_hidden_state:float16[batch,sequence,${D}]`);
    const vae = await ort.InferenceSession.create(
      join(fp16.dirs.generator, 'vae_decoder', 'model.onnx'),
    );
    expect(meta(vae, 'output')[0]).toBe('sample:float16[batch,3,height_out,width_out]');
  });
});

describe('fgl models make-tiny', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fgl-make-tiny-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const context = recordingContext;

  it('writes the models and reports paths and sizes as JSON', async () => {
    const out = join(tmp, 'models');
    const { ctx, results, human } = context({ out, dim: '48', seed: '5', fp16: true });
    expect((await modelsMakeTinyCommand.run(ctx)) ?? 0).toBe(0);
    const data = results[0] as {
      root: string;
      dirs: { generator: string };
      totalBytes: number;
      options: { textHiddenDim: number; fp16: boolean };
    };
    expect(data.root).toBe(out);
    expect(data.options).toMatchObject({ textHiddenDim: 48, fp16: true, seed: 5 });
    expect(data.totalBytes).toBeGreaterThan(100_000);
    expect((await stat(join(data.dirs.generator, 'unet', 'model.onnx'))).isFile()).toBe(true);
    expect((await stat(join(out, TINY_MODELS_MANIFEST))).isFile()).toBe(true);
    expect(human[0]).toMatch(/never accuracy/);
    const te = await ort.InferenceSession.create(
      join(data.dirs.generator, 'text_encoder', 'model.onnx'),
    );
    expect(meta(te, 'output')[0]).toBe('last_hidden_state:float16[batch,sequence,48]');
  });

  it('refuses to overwrite without --force and rejects bad values as usage errors', async () => {
    const out = join(tmp, 'twice');
    await modelsMakeTinyCommand.run(context({ out }).ctx);
    await expect(modelsMakeTinyCommand.run(context({ out }).ctx)).rejects.toBeInstanceOf(
      UsageError,
    );
    await modelsMakeTinyCommand.run(context({ out, force: true, seed: '2' }).ctx);
    expect((await readTinyModels(out)).options.seed).toBe(2);
    await expect(
      modelsMakeTinyCommand.run(context({ out: join(tmp, 'x'), preset: 'huge' }).ctx),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(
      modelsMakeTinyCommand.run(context({ out: join(tmp, 'y'), dim: 'wide' }).ctx),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(modelsMakeTinyCommand.run(context({}).ctx)).rejects.toThrow(/--out is required/);
  });
});
