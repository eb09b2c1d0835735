import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipInputIds, loadClipTokenizer } from '../../../src/core/inference/clip-tokenizer';
import {
  TEXT_SEQUENCE_LENGTH,
  type TextEncoder,
  loadTextEncoder,
} from '../../../src/core/inference/text-encoder';
import { encoderDigest } from '../../../src/core/models/model-digest';
import { createSession, inputDType, outputDType } from '../../../src/core/ort/execution-device';
import { type TinyModels, getTinyModels } from '../../helpers/tiny-models';

const L = TEXT_SEQUENCE_LENGTH;
let tiny: TinyModels;
let encoder: TextEncoder;
let tmp: string;

beforeAll(async () => {
  tiny = await getTinyModels();
  encoder = await loadTextEncoder(tiny.dirs.generator, { device: 'auto', batchSize: 2 });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fgl-text-encoder-'));
});
afterAll(async () => {
  await encoder.dispose();
  await rm(tmp, { recursive: true, force: true });
});

function row(all: Float32Array, b: number, D: number): Float32Array {
  return all.subarray(b * L * D, (b + 1) * L * D);
}

describe('loadTextEncoder (tiny diffusers-ONNX text_encoder)', () => {
  it('describes itself: D, 77 tokens, the encoder digest, the device', async () => {
    expect(encoder.dim).toBe(tiny.options.textHiddenDim);
    expect(encoder.maxLength).toBe(77);
    expect(encoder.digest).toBe(await encoderDigest(tiny.dirs.generator));
    expect(encoder.device).toBe('cpu');
  });

  it('returns [B*77*D] finite values; prompts differ; batching and repetition do not change a row', async () => {
    const D = encoder.dim;
    const prompts = ['a photo of a red apple', 'a photo of a blue car', 'a chest x-ray'];
    const out = await encoder.encode(prompts); // batchSize 2: two runs
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(prompts.length * L * D);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(row(out, 0, D)).not.toEqual(row(out, 1, D));
    expect(row(out, 1, D)).not.toEqual(row(out, 2, D));
    const alone = await encoder.encode([prompts[2]!]);
    expect(alone).toEqual(row(out, 2, D));
    expect(await encoder.encode(prompts)).toEqual(out);
    expect(await encoder.encode([])).toEqual(new Float32Array(0));
  });

  it('pads with the tokenizer pad token ("!" as in SD 2.x) and keeps <|endoftext|> when truncating', async () => {
    const tokenizer = await loadClipTokenizer(path.join(tiny.dirs.generator, 'tokenizer'));
    const vocab = JSON.parse(
      await readFile(path.join(tiny.dirs.generator, 'tokenizer', 'vocab.json'), 'utf8'),
    ) as Record<string, number>;
    const [bos, eos, pad] = [vocab['<|startoftext|>']!, vocab['<|endoftext|>']!, vocab['!']!];

    const short = clipInputIds(tokenizer, 'a red apple', L);
    expect(short).toHaveLength(L);
    expect(short[0]).toBe(bos);
    const end = short.indexOf(eos);
    expect(end).toBeGreaterThan(1);
    expect(short.slice(end + 1).every((id) => id === pad)).toBe(true);

    const long = clipInputIds(tokenizer, 'red apple '.repeat(100), L);
    expect(long).toHaveLength(L);
    expect(long[0]).toBe(bos);
    expect(long[L - 1]).toBe(eos);
    expect(long.slice(1, L - 1).includes(eos)).toBe(false);
  });

  it('a real diffusers tokenizer/ folder (vocab.json + merges.txt, no tokenizer.json) encodes identically', async () => {
    const copy = path.join(tmp, 'generator-no-tokenizer-json');
    await cp(tiny.dirs.generator, copy, { recursive: true });
    await rm(path.join(copy, 'tokenizer', 'tokenizer.json'));
    const fromSlow = await loadClipTokenizer(path.join(copy, 'tokenizer'));
    const fromFast = await loadClipTokenizer(path.join(tiny.dirs.generator, 'tokenizer'));
    for (const prompt of [
      'A Photo of  a red   apple!',
      "it's 3 o'clock, isn't it?",
      'x-ray, chest; PA view',
      '',
    ]) {
      expect(clipInputIds(fromSlow, prompt, L)).toEqual(clipInputIds(fromFast, prompt, L));
    }
    const slowEncoder = await loadTextEncoder(copy, { device: 'cpu' });
    expect(await slowEncoder.encode(['a photo of a red apple'])).toEqual(
      await encoder.encode(['a photo of a red apple']),
    );
    // The digest covers the tokenizer files, so this folder is (correctly) another encoder.
    expect(slowEncoder.digest).not.toBe(encoder.digest);
    await slowEncoder.dispose();
  });

  // This Linux build machine has no CUDA provider library (.npmrc skips its download).
  it.runIf(process.platform === 'linux')(
    'an explicit GPU device that is not installed is an error, not a silent CPU run',
    async () => {
      await expect(loadTextEncoder(tiny.dirs.generator, { device: 'cuda' })).rejects.toThrow(
        /ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/,
      );
    },
  );
});

describe('float16 exports', () => {
  it('reads the declared dtypes and decodes a float16 last_hidden_state close to the float32 one', async () => {
    const fp16 = await getTinyModels({ fp16: true, timestepType: 'int64' });
    const unet16 = await createSession(path.join(fp16.dirs.generator, 'unet', 'model.onnx'), 'cpu');
    expect(inputDType(unet16.session, 'sample')).toBe('float16');
    expect(inputDType(unet16.session, 'encoder_hidden_states')).toBe('float16');
    expect(inputDType(unet16.session, 'timestep')).toBe('int64');
    expect(outputDType(unet16.session, 'out_sample')).toBe('float16');
    await unet16.session.release();
    const unet32 = await createSession(path.join(tiny.dirs.generator, 'unet', 'model.onnx'), 'cpu');
    expect(inputDType(unet32.session, 'sample')).toBe('float32');
    expect(inputDType(unet32.session, 'timestep')).toBe('float32');
    await unet32.session.release();

    const enc16 = await loadTextEncoder(fp16.dirs.generator, { device: 'cpu' });
    const text16 = await createSession(
      path.join(fp16.dirs.generator, 'text_encoder', 'model.onnx'),
      'cpu',
    );
    expect(inputDType(text16.session, 'input_ids')).toBe('int32');
    expect(outputDType(text16.session, 'last_hidden_state')).toBe('float16');
    await text16.session.release();

    const a = await enc16.encode(['a photo of a red apple']);
    const b = await encoder.encode(['a photo of a red apple']);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(b.length);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeGreaterThan(0); // really half precision
    expect(maxDiff).toBeLessThan(5e-3);
    await enc16.dispose();
  });
});
