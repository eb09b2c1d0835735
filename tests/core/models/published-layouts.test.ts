import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaptioner } from '../../../src/core/inference/captioner';
import { loadClip } from '../../../src/core/inference/clip-model';
import { clipInputIds, loadClipTokenizer } from '../../../src/core/inference/clip-tokenizer';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { generatorImageSize } from '../../../src/core/models/generator-geometry';
import { encoderDigest, modelDigest } from '../../../src/core/models/model-digest';
import { ModelStore } from '../../../src/core/models/model-store';
import { createSession, inputDType } from '../../../src/core/ort/execution-device';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { StableDiffusionPipeline } from '../../../src/server/synthesis/sd-pipeline';
import { withExternalData } from '../../../src/cli/tiny-models/onnx-graph';
import { locateModelsFolder } from '../../../src/core/models/model-folders';
import { loadSiteModels } from '../../../src/site/prepare/site-models';
import { cudaOnlyGraph } from '../../helpers/cuda-only-graph';
import { tinyModelFiles } from '../../../src/cli/tiny-models/make-tiny-models';
import { parseTinyLayouts, resolveTinyModelOptions } from '../../../src/cli/tiny-models/tiny-model-options';
import { type HubServer, startHubServer } from '../../helpers/hub-server';
import { type TinyModels, getTinyModels } from '../../helpers/tiny-models';
import { solidImage } from '../inference/test-images';

let olive: TinyModels;
let optimum: TinyModels;
let tmp: string;
let hub: HubServer;

async function filesOf(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort();
}

beforeAll(async () => {
  olive = await getTinyModels({ layouts: ['olive-sd-turbo', 'xenova-clip', 'xenova-vit-gpt2'] });
  optimum = await getTinyModels({ layouts: ['optimum-sd21'] });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fgl-published-'));
  hub = await startHubServer();
});
afterAll(async () => {
  await hub.close();
  await rm(tmp, { recursive: true, force: true });
});

describe('olive-sd-turbo layout (onnxruntime/sd-turbo as published)', () => {
  it('has exactly the published file set: slow tokenizer files only, no submodel config.json', async () => {
    expect(await filesOf(olive.dirs.generator)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'text_encoder/model.onnx',
      'tokenizer/merges.txt',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/vocab.json',
      'unet/model.onnx',
      'vae_decoder/model.onnx',
      'vae_encoder/model.onnx',
    ]);
    const special = JSON.parse(
      await readFile(path.join(olive.dirs.generator, 'tokenizer', 'special_tokens_map.json'), 'utf8'),
    ) as Record<string, { content: string; __type?: string }>;
    expect(special.pad_token).toMatchObject({ content: '!' });
    expect(special.pad_token!.__type).toBeUndefined();
    const unet = await createSession(path.join(olive.dirs.generator, 'unet', 'model.onnx'), 'cpu');
    expect(inputDType(unet.session, 'sample')).toBe('float16');
    expect(inputDType(unet.session, 'timestep')).toBe('float16');
    await unet.session.release();
    const text = await createSession(path.join(olive.dirs.generator, 'text_encoder', 'model.onnx'), 'cpu');
    expect(inputDType(text.session, 'input_ids')).toBe('int32');
    await text.session.release();
  });

  it('describes the study without any config.json: D from the graph, 512 px, turbo recipe from the scheduler', async () => {
    const models = await describeModelsFolder(olive.root);
    expect(models.encoder.dim).toBe(olive.options.textHiddenDim);
    expect(models.encoder.sha256).toBe(await encoderDigest(olive.dirs.generator));
    expect(models.imageSize).toBe(512);
    expect(models.recipe.scheduler).toBe('turbo');
    const study = buildStudyManifest({ name: 'x', classes: ['a', 'b'], models });
    expect(study.generator).toMatchObject({ scheduler: 'turbo', steps: 1, guidance: 0, negativePrompt: '' });
  });

  it('the same folder under another name still gets the turbo recipe (the id plays no part)', async () => {
    const copy = path.join(tmp, 'stable-diffusion-2-1-base-models');
    await cp(olive.root, copy, { recursive: true });
    const models = await describeModelsFolder(copy);
    expect(models.recipe.scheduler).toBe('turbo');
  });

  it('the tokenizer pads with "!" (id 0) from object-form special tokens without __type', async () => {
    const tok = await loadClipTokenizer(path.join(olive.dirs.generator, 'tokenizer'));
    expect(tok.pad_token_id).toBe(0);
    const ids = clipInputIds(tok, '', 77);
    expect(ids.slice(0, 3)).toEqual([tok.bos_token_id, tok.eos_token_id, 0]);
  });

  it('the pipeline loads it (scaling factor defaulted to 0.18215) and runs one turbo step in float16', async () => {
    const pipeline = await StableDiffusionPipeline.load(olive.dirs.generator, { device: 'cpu' });
    try {
      expect(pipeline.vaeScalingFactor).toBe(0.18215);
      const encoder = await loadTextEncoder(olive.dirs.generator, { device: 'cpu' });
      const conditioning = await encoder.encode(['a red circle']);
      await encoder.dispose();
      const out = await pipeline.generate({
        conditioning,
        negative: new Float32Array(conditioning.length),
        guidance: 0,
        scheduler: 'turbo',
        steps: 1,
        height: 64,
        width: 64,
        seeds: [1],
      });
      expect(pipeline.stats.unetRuns).toBe(1);
      expect(out.images[0]!.length).toBe(64 * 64 * 3);
    } finally {
      await pipeline.dispose();
    }
  });

  it('downloads from a hub with only the files FGL needs (no vae_encoder)', async () => {
    hub.addRepo('onnxruntime/sd-turbo', olive.dirs.generator);
    const store = new ModelStore({ cacheDir: path.join(tmp, 'cache'), allowNetwork: true, remoteHost: hub.url, retryDelayMs: 0 });
    const r = await store.resolve({ id: 'onnxruntime/sd-turbo' }, 'generator');
    expect(r.digest).toBe(await modelDigest(olive.dirs.generator, 'generator'));
    const got = await filesOf(r.dir);
    expect(got).not.toContain('vae_encoder/model.onnx');
    expect(got).toContain('tokenizer/special_tokens_map.json');
  });
});

describe('optimum-sd21 layout (diffusers/optimum export of SD 2.1 base)', () => {
  it('keeps the UNet weights in unet/model.onnx_data, which the digest covers', async () => {
    const files = await filesOf(optimum.dirs.generator);
    expect(files).toContain('unet/model.onnx_data');
    expect(files).toContain('text_encoder/config.json');
    expect(files).not.toContain('tokenizer/tokenizer.json');
    const graph = await readFile(path.join(optimum.dirs.generator, 'unet', 'model.onnx'));
    const data = await readFile(path.join(optimum.dirs.generator, 'unet', 'model.onnx_data'));
    expect(data.length).toBeGreaterThan(graph.length);

    const copy = path.join(tmp, 'optimum-changed');
    await cp(optimum.dirs.generator, copy, { recursive: true });
    const before = await modelDigest(copy, 'generator');
    data.writeUInt8(data.readUInt8(data.length - 1) ^ 1, data.length - 1);
    await writeFile(path.join(copy, 'unet', 'model.onnx_data'), data);
    expect(await modelDigest(copy, 'generator')).not.toBe(before);
  });

  it('describes the paper recipe from its PNDM config, the size from unet/config.json, pad "!" over tokenizer_config', async () => {
    const models = await describeModelsFolder(optimum.root);
    expect(models.recipe.scheduler).toBe('pndm');
    expect(models.imageSize).toBe(optimum.options.latentSize * 8);
    expect((await generatorImageSize(optimum.dirs.generator)).source).toMatch(/sample_size/);
    const study = buildStudyManifest({ name: 'x', classes: ['a', 'b'], models });
    expect(study.generator).toMatchObject({ scheduler: 'pndm', guidance: 2, negativePrompt: 'low quality, low resolution' });
    const tok = await loadClipTokenizer(path.join(optimum.dirs.generator, 'tokenizer'));
    expect(tok.pad_token_id).toBe(0);
  });

  it('the pipeline loads the external-data UNet and denoises with PNDM', async () => {
    const pipeline = await StableDiffusionPipeline.load(optimum.dirs.generator, { device: 'cpu' });
    try {
      const negative = await pipeline.encodeNegative('');
      const out = await pipeline.generate({
        conditioning: negative,
        negative,
        guidance: 2,
        scheduler: 'pndm',
        steps: 2,
        height: 64,
        width: 64,
        seeds: [3],
      });
      expect(out.images).toHaveLength(1);
      expect(pipeline.stats.unetRuns).toBeGreaterThanOrEqual(2);
    } finally {
      await pipeline.dispose();
    }
  });
});

describe('a CPU-portable conditioning encoder beside a CUDA-only generator', () => {
  it('the study names encoder/ apart from the UNet; sites and the server run it, never the CUDA-only text encoder', async () => {
    const fp32 = await getTinyModels();
    const dir = path.join(tmp, 'cuda-generator-cpu-encoder');
    await cp(olive.root, dir, { recursive: true });
    // The generator's own text encoder needs CUDA (a com.microsoft GroupNorm graph) …
    await writeFile(path.join(dir, 'generator', 'text_encoder', 'model.onnx'), cudaOnlyGraph());
    const refused = (await describeModelsFolder(dir).catch((e: unknown) => e)) as Error & { hint?: string };
    expect(refused.message).toMatch(/needs CUDA.*this device is CPU/s);
    expect(refused.hint).toContain(path.join(dir, 'encoder'));
    // … so the folder carries a CPU-portable export of the same encoder: fp32 I/O, same weights and tokenizer.
    await cp(path.join(fp32.dirs.generator, 'text_encoder', 'model.onnx'), path.join(dir, 'encoder', 'text_encoder', 'model.onnx'));
    await cp(path.join(olive.dirs.generator, 'tokenizer'), path.join(dir, 'encoder', 'tokenizer'), { recursive: true });

    const models = await describeModelsFolder(dir);
    expect(models.encoder.id).toBe('fgl-tiny/encoder');
    expect(models.generator.id).toBe('fgl-tiny/generator');
    expect(models.encoder.sha256).toBe(await encoderDigest(path.join(dir, 'encoder')));
    expect(models.encoder.dim).toBe(olive.options.textHiddenDim);
    const study = buildStudyManifest({ name: 'x', classes: ['a', 'b'], models });

    const located = await locateModelsFolder(dir);
    expect(located.encoder).toBe(path.join(dir, 'encoder'));
    const site = await loadSiteModels(located, study, 'cpu');
    expect(site.encoder.digest).toBe(study.encoder.sha256);
    const row = await site.encoder.encode(['a red circle']);
    await site.dispose();

    const pipeline = await StableDiffusionPipeline.load(located.generator, { device: 'cpu', encoderDir: located.encoder });
    try {
      const negative = await pipeline.encodeNegative('');
      expect(negative.length).toBe(row.length);
    } finally {
      await pipeline.dispose();
    }
  });
});

describe('Olive / ORT external data (model.onnx.data)', () => {
  it('is downloaded, digested and loaded beside unet/model.onnx', async () => {
    const dir = path.join(tmp, 'olive-external');
    await cp(olive.dirs.generator, dir, { recursive: true });
    const external = withExternalData(await readFile(path.join(dir, 'unet', 'model.onnx')), 'model.onnx.data');
    await writeFile(path.join(dir, 'unet', 'model.onnx'), external.model);
    await writeFile(path.join(dir, 'unet', 'model.onnx.data'), external.data);

    hub.requests.length = 0;
    hub.addRepo('fgl-test/olive-external', dir);
    const store = new ModelStore({ cacheDir: path.join(tmp, 'cache-external'), allowNetwork: true, remoteHost: hub.url, retryDelayMs: 0 });
    const r = await store.resolve({ id: 'fgl-test/olive-external' }, 'generator');
    expect(hub.requests.find((q) => q.file === 'unet/model.onnx.data')?.status).toBe(200);
    expect(r.digest).toBe(await modelDigest(dir, 'generator'));
    await writeFile(path.join(r.dir, 'unet', 'model.onnx.data'), Buffer.alloc(external.data.length));
    expect(await modelDigest(r.dir, 'generator')).not.toBe(r.digest);
    await writeFile(path.join(r.dir, 'unet', 'model.onnx.data'), external.data);

    const pipeline = await StableDiffusionPipeline.load(r.dir, { device: 'cpu' });
    expect(pipeline.unet.inputNames).toContain('sample');
    await pipeline.dispose();
  });
});

describe('xenova-clip and xenova-vit-gpt2 layouts', () => {
  it('CLIP loads through transformers.js; the extra quantized/fp16/combined graphs are neither digested nor fetched', async () => {
    const files = await filesOf(olive.dirs.clip);
    expect(files).toEqual(expect.arrayContaining(['onnx/model.onnx', 'onnx/text_model_quantized.onnx', 'onnx/vision_model_fp16.onnx']));
    const clip = await loadClip(olive.dirs.clip, { device: 'cpu' });
    const [a] = await clip.embedImages([solidImage([220, 30, 30])]);
    const [t] = await clip.embedTexts(['a red image']);
    expect(a!.length).toBe(clip.dim);
    expect(t!.length).toBe(clip.dim);
    await clip.dispose();

    const copy = path.join(tmp, 'clip-without-variants');
    await cp(olive.dirs.clip, copy, { recursive: true });
    for (const f of files.filter((x) => /_(fp16|quantized)\.onnx$|onnx\/model\.onnx$/.test(x))) await rm(path.join(copy, f));
    expect(await modelDigest(copy, 'clip')).toBe(await modelDigest(olive.dirs.clip, 'clip'));

    hub.requests.length = 0;
    hub.addRepo('Xenova/clip-vit-base-patch32', olive.dirs.clip);
    const store = new ModelStore({ cacheDir: path.join(tmp, 'cache-clip'), allowNetwork: true, remoteHost: hub.url, retryDelayMs: 0 });
    await store.resolve({ id: 'Xenova/clip-vit-base-patch32' }, 'clip');
    expect(hub.requests.map((q) => q.file).filter((f) => /quantized|fp16|onnx\/model\.onnx/.test(f))).toEqual([]);
  });

  it('the captioner loads and captions with the merged decoder; the other decoders are neither digested nor fetched', async () => {
    expect(await filesOf(olive.dirs.captioner)).toEqual(
      expect.arrayContaining(['onnx/decoder_model.onnx', 'onnx/decoder_with_past_model.onnx', 'onnx/decoder_model_merged.onnx']),
    );
    const captioner = await loadCaptioner(olive.dirs.captioner, { device: 'cpu' });
    const [caption] = await captioner.caption([solidImage([220, 30, 30])]);
    await captioner.dispose();
    expect(caption).toMatch(/red/);

    hub.requests.length = 0;
    hub.addRepo('Xenova/vit-gpt2-image-captioning', olive.dirs.captioner);
    const store = new ModelStore({ cacheDir: path.join(tmp, 'cache-captioner'), allowNetwork: true, remoteHost: hub.url, retryDelayMs: 0 });
    const r = await store.resolve({ id: 'Xenova/vit-gpt2-image-captioning' }, 'captioner');
    expect(r.digest).toBe(await modelDigest(olive.dirs.captioner, 'captioner'));
    expect(hub.requests.map((q) => q.file).filter((f) => /quantized|decoder_model\.onnx|with_past/.test(f))).toEqual([]);
  });
});

describe('fgl models make-tiny --layout', () => {
  it('names the layouts it knows and refuses two for one model', () => {
    expect(parseTinyLayouts('olive-sd-turbo,xenova-clip,fgl')).toEqual(['olive-sd-turbo', 'xenova-clip']);
    expect(() => parseTinyLayouts('olive-sd-turbo,optimum-sd21')).toThrow(/both generator layouts: name one per model/);
    expect(() => parseTinyLayouts('onnx-sdxl')).toThrow(/Unknown model layout "onnx-sdxl": use fgl or one of olive-sd-turbo, optimum-sd21/);
  });

  it('without --layout: FGL own file set (no vae_encoder, no published extras)', async () => {
    const [plain, none] = [tinyModelFiles(resolveTinyModelOptions({})), tinyModelFiles(resolveTinyModelOptions({ layouts: [] }))];
    expect([...plain.keys()]).toEqual([...none.keys()]);
    expect([...plain.keys()].some((k) => k.startsWith('generator/vae_encoder'))).toBe(false);
  });
});
