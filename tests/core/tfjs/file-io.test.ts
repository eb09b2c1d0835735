import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTf, type Tf } from '../../../src/core/tfjs/tfjs-backend';
import {
  loadModelFromDir,
  MODEL_JSON_FILE,
  saveModelToDir,
  WEIGHTS_SHARD_FILE,
} from '../../../src/core/tfjs/file-io';
import { predictProbabilities } from '../../../src/core/tfjs/predict-probabilities';

let tf: Tf;
let dir: string;

beforeAll(async () => {
  tf = (await loadTf()).tf;
  dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-tfjs-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function inputs(n: number, dim: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) =>
    Float32Array.from({ length: dim }, (_, j) => Math.sin(i * 7 + j * 3)),
  );
}

describe('saveModelToDir / loadModelFromDir', () => {
  it('round-trips a dense model: same files listed and on disk, identical predictions', async () => {
    const model = tf.sequential();
    model.add(
      tf.layers.dense({
        inputShape: [8],
        units: 16,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }),
      }),
    );
    model.add(tf.layers.dropout({ rate: 0.3 }));
    model.add(
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }),
      }),
    );
    const out = path.join(dir, 'dense');
    const files = await saveModelToDir(model, out);
    expect([...files].sort()).toEqual([WEIGHTS_SHARD_FILE, MODEL_JSON_FILE].sort());
    expect((await readdir(out)).sort()).toEqual([...files].sort()); // no temp files left behind

    const json = JSON.parse(await readFile(path.join(out, MODEL_JSON_FILE), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual([WEIGHTS_SHARD_FILE]);
    const weightBytes = (await readFile(path.join(out, WEIGHTS_SHARD_FILE))).byteLength;
    expect(weightBytes).toBe((8 * 16 + 16 + 16 * 3 + 3) * 4);

    const loaded = await loadModelFromDir(out);
    const x = inputs(10, 8);
    const before = predictProbabilities(tf, model, x, 4);
    const after = predictProbabilities(tf, loaded, x, 4);
    expect(after).toEqual(before);
    expect(before[0]!.length).toBe(3);
    expect(before[0]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    model.dispose();
    loaded.dispose();
  });

  it('round-trips a conv model with batch norm (non-trainable moving statistics included)', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    let h = tf.layers
      .conv2d({
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: tf.initializers.heNormal({ seed: 5 }),
      })
      .apply(input);
    h = tf.layers.batchNormalization({ movingMeanInitializer: 'ones' }).apply(h);
    h = tf.layers.globalAveragePooling2d({}).apply(h);
    const output = tf.layers.dense({ units: 2, activation: 'softmax' }).apply(h) as ReturnType<
      typeof tf.input
    >;
    const model = tf.model({ inputs: input, outputs: output });
    const out = path.join(dir, 'conv');
    await saveModelToDir(model, out);
    const loaded = await loadModelFromDir(out);
    const x = inputs(3, 8 * 8 * 3);
    expect(predictProbabilities(tf, loaded, x)).toEqual(predictProbabilities(tf, model, x));
    model.dispose();
    loaded.dispose();
  });

  it('overwrites an existing save in place', async () => {
    const make = (seed: number) => {
      const m = tf.sequential();
      m.add(
        tf.layers.dense({
          inputShape: [4],
          units: 2,
          activation: 'softmax',
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
        }),
      );
      return m;
    };
    const out = path.join(dir, 'overwrite');
    const a = make(1);
    const b = make(2);
    await saveModelToDir(a, out);
    await saveModelToDir(b, out);
    const loaded = await loadModelFromDir(out);
    const x = inputs(2, 4);
    expect(predictProbabilities(tf, loaded, x)).toEqual(predictProbabilities(tf, b, x));
    expect(predictProbabilities(tf, loaded, x)).not.toEqual(predictProbabilities(tf, a, x));
    [a, b, loaded].forEach((m) => m.dispose());
  });

  it('explains a missing folder, a missing shard and a shard path that escapes the folder', async () => {
    await expect(loadModelFromDir(path.join(dir, 'nope'))).rejects.toThrow(
      /Cannot read the tfjs model/,
    );

    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 2 }));
    const out = path.join(dir, 'broken');
    await saveModelToDir(m, out);
    await rm(path.join(out, WEIGHTS_SHARD_FILE));
    await expect(loadModelFromDir(out)).rejects.toThrow(/Weight shard .* cannot be read/);

    const json = JSON.parse(await readFile(path.join(out, MODEL_JSON_FILE), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    await writeFile(path.join(out, MODEL_JSON_FILE), JSON.stringify(json));
    await expect(loadModelFromDir(out)).rejects.toThrow(/not a plain file name/);
    m.dispose();
  });

  it('predictProbabilities rejects inputs of the wrong size', () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax' }));
    expect(() => predictProbabilities(tf, m, [new Float32Array(5)])).toThrow(/expects \[4\]/);
    m.dispose();
  });
});
