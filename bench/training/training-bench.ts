/**
 * Training throughput of src/server/training on this machine, on each tfjs backend that starts
 * here (wasm, cpu), next to PyTorch training the same architecture on the same data, batch size
 * and thread count (tools/reference/torch_train.py, run with /usr/bin/python3 or FGL_TORCH_PYTHON).
 * Run: npx tsx bench/training/training-bench.ts [--probe-n 2048] [--cnn-images 68] [--cnn-size 64]
 *        [--epochs 3] [--cnn-epochs 2] [--backends wasm,cpu]
 * Prints one JSON object on stdout and a summary on stderr. Samples/s count optimizer steps with
 * batch preparation (augmentation included), not validation, over the epochs after the first
 * (warm-up). Both tfjs backends run on one thread in Node, so the ratio that matters is tfjs ÷
 * torch on 1 thread; torch on all cores is reported next to it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TrainingSettings } from '../../src/shared/study';
import { useJsBackend, type LoadedTf } from '../../src/core/tfjs/tfjs-backend';
import { l2Normalize } from '../../src/core/tfjs/l2-normalize';
import { resizeSideFor, type RgbImage } from '../../src/core/tfjs/image-input';
import { trainProbe } from '../../src/server/training/probe-trainer';
import { trainCnn } from '../../src/server/training/cnn-trainer';
import { RESNET_PRESETS } from '../../src/server/training/resnet';
import { createRng } from '../../src/server/training/seeded-random';
import type { EpochRecord } from '../../src/server/training/fit-loop';

const run = promisify(execFile);
const TORCH_SCRIPT = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../tools/reference/torch_train.py',
);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function steadyRate(history: EpochRecord[]): number {
  const steady = history.length > 1 ? history.slice(1) : history;
  return steady.reduce((n, e) => n + e.samples, 0) / steady.reduce((s, e) => s + e.trainSeconds, 0);
}

async function findTorchPython(): Promise<{ python: string } | { reason: string }> {
  const candidates = [process.env.FGL_TORCH_PYTHON, '/usr/bin/python3', 'python3'].filter(
    (c): c is string => !!c,
  );
  const errors: string[] = [];
  for (const python of candidates) {
    try {
      await run(python, ['-c', 'import torch, numpy']);
      return { python };
    } catch (e) {
      errors.push(`${python}: ${(e as Error).message.split('\n').filter(Boolean).at(-1)}`);
    }
  }
  return {
    reason: `no python with torch + numpy (${errors.join('; ')}); on Debian: apt-get install python3-torch`,
  };
}

interface TorchRun {
  threads: number;
  samplesPerSec: number;
  version: string;
}

async function torchTrain(python: string, args: string[], threads: number): Promise<TorchRun> {
  const { stdout } = await run(python, [TORCH_SCRIPT, ...args, '--threads', String(threads)], {
    maxBuffer: 1 << 20,
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    torch: string;
    threads: number;
    samplesPerSec: number;
  };
  return { threads: out.threads, samplesPerSec: out.samplesPerSec, version: out.torch };
}

async function torchBoth(
  torch: { python: string } | { reason: string },
  args: string[],
): Promise<{ runs: TorchRun[] | null; reason?: string }> {
  if ('reason' in torch) return { runs: null, reason: torch.reason };
  try {
    // tfjs's CPU backend is single-threaded JavaScript: compare with torch on 1 thread and on all cores.
    const cores = os.availableParallelism();
    const runs = [await torchTrain(torch.python, args, 1)];
    if (cores > 1) runs.push(await torchTrain(torch.python, args, cores));
    return { runs };
  } catch (e) {
    return { runs: null, reason: `torch_train.py failed: ${(e as Error).message.slice(0, 500)}` };
  }
}

/** tfjs samples/s ÷ torch samples/s, per torch thread count (≥ 1 = tfjs as fast). */
function ratios(tfjsRate: number, runs: TorchRun[] | null): Record<string, number> | null {
  if (!runs) return null;
  return Object.fromEntries(
    runs.map((r) => [
      `tfjsOverTorch${r.threads}Threads`,
      Number((tfjsRate / r.samplesPerSec).toFixed(3)),
    ]),
  );
}

/** The backends that start here; each run switches to its own (tfjs has one global backend). */
async function startBackends(
  names: string[],
): Promise<{ ok: ('wasm' | 'cpu')[]; failed: Record<string, string>; version: string | null }> {
  const ok: ('wasm' | 'cpu')[] = [];
  const failed: Record<string, string> = {};
  let version: string | null = null;
  for (const name of names) {
    if (name !== 'wasm' && name !== 'cpu')
      throw new Error(`--backends takes wasm and/or cpu; got "${name}"`);
    try {
      version = (await useJsBackend(name)).tf.version.tfjs;
      ok.push(name);
    } catch (e) {
      failed[name] = (e as Error).message;
    }
  }
  return { ok, failed, version };
}

async function switchTo(name: 'wasm' | 'cpu'): Promise<LoadedTf> {
  const loaded = await useJsBackend(name);
  if (loaded.tf.getBackend() !== name)
    throw new Error(`tfjs is on ${loaded.tf.getBackend()}, not ${name}`);
  return loaded;
}

async function main(): Promise<void> {
  const backendArg = process.argv.indexOf('--backends');
  const backendNames = backendArg >= 0 ? process.argv[backendArg + 1]!.split(',') : ['wasm', 'cpu'];
  const backends = await startBackends(backendNames);
  const torch = await findTorchPython();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-train-bench-'));
  const epochs = arg('epochs', 3);
  try {
    // ---- probe: MLP head on L2-normalised 512-D embeddings, 10 classes
    const n = arg('probe-n', 2048);
    const dim = 512;
    const classes = 10;
    const batch = 64;
    const rng = createRng(1);
    const features = Array.from({ length: n }, () =>
      l2Normalize(Float32Array.from({ length: dim }, () => rng() - 0.5)),
    );
    const labels = Array.from({ length: n }, (_, i) => i % classes);
    const probeSettings = TrainingSettings.parse({
      epochs,
      batchSize: batch,
      learningRate: 1e-3,
      validationSplit: 0.05,
      patience: 1000,
      seed: 1,
    });
    const flat = new Float32Array(n * dim);
    features.forEach((f, i) => flat.set(f, i * dim));
    await writeFile(path.join(dir, 'probe-x.bin'), flat);
    await writeFile(path.join(dir, 'probe-y.bin'), Int32Array.from(labels));
    const probeTorch = await torchBoth(torch, [
      '--kind',
      'mlp',
      '--data',
      path.join(dir, 'probe-x.bin'),
      '--labels',
      path.join(dir, 'probe-y.bin'),
      '--n',
      String(n),
      '--dim',
      String(dim),
      '--classes',
      String(classes),
      '--batch-size',
      String(batch),
      '--epochs',
      String(epochs),
      '--lr',
      '1e-3',
      '--hidden',
      '256',
      '--dropout',
      '0.2',
    ]);
    const probeRates: Record<string, number> = {};
    let probeTrainSamples = 0;
    for (const name of backends.ok) {
      const loaded = await switchTo(name);
      const probe = await trainProbe({
        features,
        labels,
        classes: labels.slice(0, classes).map(String),
        settings: probeSettings,
        tf: loaded,
      });
      probe.model.dispose();
      probeRates[loaded.backend] = steadyRate(probe.history);
      probeTrainSamples = probe.history[0]!.samples;
    }

    // ---- cnn: the CPU default (resnet8, width 16, cifar stem) at 64 px, SGD + wd, RandomResizedCrop + flip
    const images = arg('cnn-images', 68);
    const cnnEpochs = arg('cnn-epochs', 2);
    const size = arg('cnn-size', 64);
    const side = resizeSideFor(size);
    const cnnBatch = 32;
    const pixels = new Uint8Array(images * side * side * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(rng() * 256);
    const rgb: RgbImage[] = Array.from({ length: images }, (_, i) => ({
      data: pixels.subarray(i * side * side * 3, (i + 1) * side * side * 3),
      width: side,
      height: side,
    }));
    const cnnLabels = Array.from({ length: images }, (_, i) => i % 2);
    const cnnSettings = TrainingSettings.parse({
      kind: 'cnn',
      epochs: cnnEpochs,
      batchSize: cnnBatch,
      learningRate: 0.01,
      validationSplit: 0.06,
      patience: 1000,
      seed: 1,
    });
    await writeFile(path.join(dir, 'cnn-x.bin'), pixels);
    await writeFile(path.join(dir, 'cnn-y.bin'), Int32Array.from(cnnLabels));
    const r8 = RESNET_PRESETS.resnet8;
    const cnnTorch = await torchBoth(torch, [
      '--kind',
      'cnn',
      '--data',
      path.join(dir, 'cnn-x.bin'),
      '--labels',
      path.join(dir, 'cnn-y.bin'),
      '--n',
      String(images),
      '--side',
      String(side),
      '--size',
      String(size),
      '--classes',
      '2',
      '--batch-size',
      String(cnnBatch),
      '--epochs',
      String(cnnEpochs),
      '--lr',
      '0.01',
      '--blocks',
      r8.blocks.join(','),
      '--width',
      String(r8.width),
      '--stem',
      r8.stem,
    ]);
    const cnnRates: Record<string, number> = {};
    let cnnTrainSamples = 0;
    for (const name of backends.ok) {
      const loaded = await switchTo(name);
      const cnn = await trainCnn({
        images: rgb,
        labels: cnnLabels,
        classes: ['a', 'b'],
        settings: cnnSettings,
        cnn: { size, preset: 'resnet8' },
        tf: loaded,
      });
      cnn.model.dispose();
      cnnRates[loaded.backend] = steadyRate(cnn.history);
      cnnTrainSamples = cnn.history[0]!.samples;
    }

    const perBackend = (
      rates: Record<string, number>,
      runs: TorchRun[] | null,
      digits: number,
    ): Record<string, { samplesPerSec: number; ratio: Record<string, number> | null }> =>
      Object.fromEntries(
        Object.entries(rates).map(([b, r]) => [
          b,
          { samplesPerSec: Number(r.toFixed(digits)), ratio: ratios(r, runs) },
        ]),
      );
    const result = {
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        loadAvg: os.loadavg().map((l) => Number(l.toFixed(2))),
      },
      tfjs: { version: backends.version, failedBackends: backends.failed },
      note: 'samples/s over epochs after the first; both tfjs backends run one thread in Node, so compare with torch on 1 thread; ratio = tfjs ÷ torch',
      probe: {
        config: { samples: n, dim, classes, hidden: 256, batch, epochs, optimizer: 'adam' },
        tfjsTrainSamples: probeTrainSamples,
        tfjs: perBackend(probeRates, probeTorch.runs, 1),
        torch: probeTorch.runs,
        torchReason: probeTorch.reason,
      },
      cnn: {
        config: {
          images,
          size,
          side,
          preset: 'resnet8',
          ...r8,
          batch: cnnBatch,
          epochs: cnnEpochs,
          optimizer: 'sgd momentum 0.9 wd 2e-4',
          augment: 'RandomResizedCrop + flip',
        },
        tfjsTrainSamples: cnnTrainSamples,
        tfjs: perBackend(cnnRates, cnnTorch.runs, 2),
        torch: cnnTorch.runs,
        torchReason: cnnTorch.reason,
      },
    };
    for (const [model, r] of [
      ['probe', result.probe],
      ['cnn', result.cnn],
    ] as const) {
      const torchLine = (r.torch ?? [])
        .map((t) => `torch ${t.threads} thr ${t.samplesPerSec.toFixed(1)}/s`)
        .join(', ');
      for (const [b, v] of Object.entries(r.tfjs))
        process.stderr.write(
          `${model.padEnd(5)} tfjs ${b.padEnd(4)} ${String(v.samplesPerSec).padStart(8)}/s  ${
            v.ratio
              ? Object.entries(v.ratio)
                  .map(([k, x]) => `${k} ${x}`)
                  .join('  ')
              : (r.torchReason ?? '')
          }  (${torchLine})\n`,
        );
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
