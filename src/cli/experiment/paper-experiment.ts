import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadClip, type ClipModel } from '../../core/inference/clip-model';
import { loadTextEncoder, TEXT_SEQUENCE_LENGTH } from '../../core/inference/text-encoder';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { predictProbabilities } from '../../core/tfjs/predict-probabilities';
import { loadTf, type LoadedTf } from '../../core/tfjs/tfjs-backend';
import { StableDiffusionPipeline } from '../../server/synthesis/sd-pipeline';
import { buildProbeModel, trainProbe } from '../../server/training/probe-trainer';
import { classPrompts } from '../../site/prompts/prompt-templates';
import { computeMetrics } from '../../site/evaluate/classification-metrics';
import { Ledger } from '../../site/ledger/ledger';
import { DEFAULT_CLASS_TEMPLATE, TrainingSettings } from '../../shared/study';
import { folderFeatures } from '../demo/site-alone';
import { makeFashionSampleData } from '../sample-data/fashion-sample-data';
import { describeModelsFolder } from '../study/models-folder';

/** β = Infinity stands for IID (a uniform random split). */
export type Split = { label: string; beta: number };
export const PAPER_SPLITS: readonly Split[] = [
  { label: 'β=0.01', beta: 0.01 },
  { label: 'β=0.1', beta: 0.1 },
  { label: 'β=0.5', beta: 0.5 },
  { label: 'IID', beta: Infinity },
];

export type PaperMethod = 'centralized' | 'site alone (mean)' | 'FedAvg' | 'FGL (class prompts)' | 'FGL + FedAvg';

export type PaperRow = {
  split: string;
  beta: number | null;
  method: PaperMethod;
  /** On the union of every site's held-out part (the global test set). */
  accuracy: number;
  balancedAccuracy: number;
  /** Bytes that crossed the network, both directions, all sites, all rounds. */
  bytes: number;
  rounds: number;
};

export type PaperOptions = {
  modelsDir: string;
  workDir: string;
  quick: boolean;
  seed: number;
  device: DeviceChoice;
  datasetDir?: string;
  say: (line: string) => void;
  signal?: AbortSignal;
};

export type PaperResult = {
  rows: PaperRow[];
  settings: { sites: number; images: number; fedAvgRounds: number; localEpochs: number; fglImagesPerClass: number; fglFedAvgRounds: number; probe: string };
};

const SITES = 5;
const BYTES_F32 = 4;
/** The paper's FedAvg: 5 local epochs per round, lr 0.01 (here with the probe's Adam, see probe-trainer). */
const LOCAL_EPOCHS = 5;

type SiteData = { train: { features: Float32Array[]; labels: number[] }; held: { features: Float32Array[]; labels: number[] } };

function concat(parts: { features: Float32Array[]; labels: number[] }[]) {
  return { features: parts.flatMap((p) => p.features), labels: parts.flatMap((p) => p.labels) };
}

function evaluate(tf: LoadedTf['tf'], model: ReturnType<typeof buildProbeModel>, test: { features: Float32Array[]; labels: number[] }, classes: readonly string[]) {
  const m = computeMetrics(predictProbabilities(tf, model, test.features), test.labels, classes);
  return { accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy };
}

/**
 * FedAvg on the probe: each round every site starts from the global weights, trains LOCAL_EPOCHS
 * epochs on its own features, and the server averages the weights by sample count.
 */
async function fedAvg(
  loaded: LoadedTf,
  sites: SiteData[],
  classes: readonly string[],
  settings: TrainingSettings,
  rounds: number,
  start: ReturnType<typeof buildProbeModel> | null,
) {
  const { tf } = loaded;
  const dim = sites[0]!.train.features[0]!.length;
  const global = buildProbeModel(tf, dim, classes.length, settings.seed);
  if (start) global.setWeights(start.getWeights());
  const params = global.countParams();
  for (let r = 0; r < rounds; r++) {
    const sums = global.getWeights().map((w) => tf.zerosLike(w));
    let total = 0;
    for (const [k, s] of sites.entries()) {
      if (s.train.labels.length === 0) continue;
      const local = buildProbeModel(tf, dim, classes.length, settings.seed + 1000 * r + k);
      local.setWeights(global.getWeights());
      local.compile({ optimizer: tf.train.adam(settings.learningRate), loss: 'sparseCategoricalCrossentropy' });
      const x = tf.tensor2d(s.train.features.flatMap((f) => [...f]), [s.train.features.length, dim]);
      const y = tf.tensor1d(s.train.labels, 'float32');
      await local.fit(x, y, { epochs: LOCAL_EPOCHS, batchSize: settings.batchSize, shuffle: true, verbose: 0 });
      const n = s.train.labels.length;
      local.getWeights().forEach((w, i) => {
        const next = sums[i]!.add(w.mul(n));
        sums[i]!.dispose();
        sums[i] = next;
      });
      total += n;
      x.dispose();
      y.dispose();
      local.dispose();
    }
    global.setWeights(sums.map((s) => s.div(total)));
    sums.forEach((s) => s.dispose());
  }
  // Down (global → site) and up (site → server), every participating site, every round.
  const bytes = params * BYTES_F32 * 2 * sites.length * rounds;
  return { model: global, bytes };
}

/**
 * The paper's comparison on the mini bundle and Fashion-MNIST: 5 sites with Dirichlet(β) label
 * skew (and IID), each with a held-out part; the global test set is the union of the held-out
 * parts. Every method trains the same global model family (the study's MLP probe on the mini
 * CLIP's features) and is scored on the same test set.
 */
export async function runPaperExperiment(o: PaperOptions): Promise<PaperResult> {
  const models = await describeModelsFolder(o.modelsDir);
  if (!models.mini)
    throw Object.assign(new Error(`${o.modelsDir} is not the mini bundle: the experiment needs models trained on Fashion-MNIST`), { hint: 'Use --models mini (the default).' });
  const images = o.quick ? 1500 : 5000;
  const rounds = o.quick ? 10 : 50;
  const fglPerClass = o.quick ? 40 : 100;
  const fglFedAvgRounds = 5;
  const settings = TrainingSettings.parse({ seed: o.seed, ...(o.quick ? { epochs: 40 } : {}) });
  const loaded = await loadTf();
  const { tf } = loaded;
  const classes = [] as string[];
  const rows: PaperRow[] = [];
  await mkdir(o.workDir, { recursive: true });

  // FGL with class prompts: every site sends the class-prompt conditioning of each class it holds;
  // the server synthesizes fglPerClass images per class held anywhere. Synthetic features are per class.
  const clip: ClipModel = await loadClip(models.clip.dir, { device: o.device });
  const pipeline = await StableDiffusionPipeline.load(models.generator.dir, { device: o.device, batchSize: 8 });
  const encoder = await loadTextEncoder(models.generator.dir, { device: o.device });
  const synthetic = new Map<number, Float32Array[]>();
  try {
    const negative = await pipeline.encodeNegative('');
    for (const split of PAPER_SPLITS) {
      o.signal?.throwIfAborted();
      const dir = join(o.workDir, split.label.replace(/[^a-z0-9.]+/gi, '-'));
      const data = await makeFashionSampleData(join(dir, 'data'), {
        sites: SITES,
        beta: Number.isFinite(split.beta) ? split.beta : 1e6,
        seed: o.seed,
        images,
        minPerSite: 10,
        force: true,
        ...(o.datasetDir ? { datasetDir: o.datasetDir } : {}),
      });
      if (classes.length === 0) classes.push(...data.classes);
      const ledger = Ledger.open(join(dir, 'features.sqlite'));
      const sites: SiteData[] = [];
      try {
        for (const s of data.sites) {
          const f = { ledger, clipDigest: models.clip.sha256!, classes, ...(o.signal ? { signal: o.signal } : {}) };
          sites.push({ train: await folderFeatures(f, s.dir, clip), held: await folderFeatures(f, s.eval!.dir, clip) });
        }
      } finally {
        ledger.close();
      }
      const test = concat(sites.map((s) => s.held));
      const beta = Number.isFinite(split.beta) ? split.beta : null;
      const push = (method: PaperMethod, m: { accuracy: number; balancedAccuracy: number }, bytes: number, r: number) => {
        rows.push({ split: split.label, beta, method, ...m, bytes, rounds: r });
        o.say(`${split.label.padEnd(7)} ${method.padEnd(20)} accuracy ${(m.accuracy * 100).toFixed(1)}%  bytes ${bytes}`);
      };

      const central = await trainProbe({ features: concat(sites.map((s) => s.train)).features, labels: concat(sites.map((s) => s.train)).labels, classes, settings, tf: loaded });
      push('centralized', evaluate(tf, central.model, test, classes), 0, 0);
      central.model.dispose();

      const alone = { accuracy: 0, balancedAccuracy: 0 };
      for (const s of sites) {
        const r = await trainProbe({ features: s.train.features, labels: s.train.labels, classes, settings, tf: loaded }).catch(() => null);
        // A site with one class (or one image per class) cannot hold out validation data: it predicts its one class.
        const m = r ? evaluate(tf, r.model, test, classes) : { accuracy: test.labels.filter((l) => l === s.train.labels[0]).length / test.labels.length, balancedAccuracy: 1 / classes.length };
        r?.model.dispose();
        alone.accuracy += m.accuracy / sites.length;
        alone.balancedAccuracy += m.balancedAccuracy / sites.length;
      }
      push('site alone (mean)', alone, 0, 0);

      const fed = await fedAvg(loaded, sites, classes, settings, rounds, null);
      push('FedAvg', evaluate(tf, fed.model, test, classes), fed.bytes, rounds);
      fed.model.dispose();

      // FGL one round: rows = (site, class held); images per class held anywhere.
      const held = new Set(sites.flatMap((s) => s.train.labels));
      const rowsSent = sites.reduce((a, s) => a + new Set(s.train.labels).size, 0);
      const fglBytes = rowsSent * (TEXT_SEQUENCE_LENGTH * encoder.dim * 2 + 8);
      const feats: Float32Array[] = [];
      const labels: number[] = [];
      for (const c of [...held].sort((a, b) => a - b)) {
        if (!synthetic.has(c)) {
          const cond = await encoder.encode(classPrompts([DEFAULT_CLASS_TEMPLATE], classes[c]!));
          const conditioning = new Float32Array(fglPerClass * cond.length);
          for (let i = 0; i < fglPerClass; i++) conditioning.set(cond, i * cond.length);
          const gen = await pipeline.generate({
            conditioning,
            negative,
            guidance: 2,
            scheduler: 'pndm',
            steps: 20,
            height: 64,
            width: 64,
            seeds: Array.from({ length: fglPerClass }, (_, i) => o.seed * 100_000 + c * 1000 + i),
            ...(o.signal ? { signal: o.signal } : {}),
          });
          synthetic.set(c, await clip.embedImages(gen.images.map((data) => ({ data, width: gen.width, height: gen.height, channels: 3 as const }))));
        }
        for (const f of synthetic.get(c)!) {
          feats.push(f);
          labels.push(c);
        }
      }
      const fgl = await trainProbe({ features: feats, labels, classes, settings, tf: loaded });
      push('FGL (class prompts)', evaluate(tf, fgl.model, test, classes), fglBytes, 1);
      const both = await fedAvg(loaded, sites, classes, settings, fglFedAvgRounds, fgl.model);
      push('FGL + FedAvg', evaluate(tf, both.model, test, classes), fglBytes + both.bytes, 1 + fglFedAvgRounds);
      both.model.dispose();
      fgl.model.dispose();
    }
  } finally {
    await encoder.dispose();
    await pipeline.dispose();
    await clip.dispose();
  }
  return {
    rows,
    settings: { sites: SITES, images, fedAvgRounds: rounds, localEpochs: LOCAL_EPOCHS, fglImagesPerClass: fglPerClass, fglFedAvgRounds, probe: `MLP on mini-CLIP features (hidden 256), Adam lr ${settings.learningRate}` },
  };
}
