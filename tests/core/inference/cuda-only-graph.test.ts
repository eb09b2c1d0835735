import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { createSession } from '../../../src/core/ort/execution-device';
import { cudaOnlyGraph } from '../../helpers/cuda-only-graph';
import { getTinyModels } from '../../helpers/tiny-models';

let root: string;
let groupNorm: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fgl-cuda-only-'));
  groupNorm = path.join(root, 'unet.onnx');
  await writeFile(groupNorm, cudaOnlyGraph());
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('a model that needs CUDA, on a CPU device', () => {
  it('says the model needs CUDA and the device is CPU (not "reinstall"), naming the operator', async () => {
    for (const device of ['cpu', 'auto'] as const) {
      const err = (await createSession(groupNorm, device).then(
        () => null,
        (e: unknown) => e as Error,
      ))!;
      // On a machine with the CUDA provider, 'auto' would run it there; this one has none.
      expect(err, device).toBeInstanceOf(Error);
      expect(err.message).toMatch(/needs CUDA/);
      expect(err.message).toMatch(/this device is CPU/i);
      expect(err.message).toContain('GroupNorm');
      expect(err.message).toContain(groupNorm);
      expect(err.message).not.toMatch(/reinstall|npm ci/);
    }
  });

  it('a generator whose text encoder needs CUDA cannot be a site encoder, and the error says what to use instead', async () => {
    const tiny = await getTinyModels();
    const gen = path.join(root, 'generator');
    await mkdir(path.join(gen, 'text_encoder'), { recursive: true });
    const { cp } = await import('node:fs/promises');
    await cp(path.join(tiny.dirs.generator, 'tokenizer'), path.join(gen, 'tokenizer'), { recursive: true });
    await writeFile(path.join(gen, 'text_encoder', 'model.onnx'), cudaOnlyGraph());
    await expect(loadTextEncoder(gen, { device: 'cpu' })).rejects.toThrow(/needs CUDA.*CPU-portable export/s);
  });
});
