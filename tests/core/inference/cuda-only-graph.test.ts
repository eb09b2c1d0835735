import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { createSession } from '../../../src/core/ort/execution-device';
import { getTinyModels } from '../../helpers/tiny-models';

let root: string;
let groupNorm: string;

/**
 * One com.microsoft GroupNorm node: the contrib op ORT's transformers optimizer puts into SD
 * UNets for CUDA. ONNX Runtime has CUDA (and ROCm/DirectML) kernels for it, no CPU kernel.
 */
function cudaOnlyGraph(): Uint8Array {
  const { onnx } = onnxProto;
  const value = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [1, 2, 2, 4].map((d) => ({ dimValue: d })) } } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [
        { domain: '', version: 17 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: 'cuda_only',
        node: [
          {
            opType: 'GroupNorm',
            domain: 'com.microsoft',
            input: ['x', 'gamma', 'beta'],
            output: ['y'],
            attribute: [
              { name: 'epsilon', type: 1, f: 1e-5 },
              { name: 'groups', type: 2, i: 1 },
              { name: 'activation', type: 2, i: 0 },
            ],
          },
        ],
        initializer: [
          { name: 'gamma', dims: [4], dataType: 1, floatData: [1, 1, 1, 1] },
          { name: 'beta', dims: [4], dataType: 1, floatData: [0, 0, 0, 0] },
        ],
        input: [value('x')],
        output: [value('y')],
      },
    }),
  ).finish();
}

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
