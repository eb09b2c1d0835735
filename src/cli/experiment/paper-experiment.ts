import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { decodeImage } from '../../core/image/decode-image';
import { imageToModelInput, type RgbImage } from '../../core/tfjs/image-input';
import { loadClip, type ClipModel } from '../../core/inference/clip-model';
import { loadTextEncoder, TEXT_SEQUENCE_LENGTH } from '../../core/inference/text-encoder';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { predictProbabilities } from '../../core/tfjs/predict-probabilities';
import { loadTf, type LoadedTf } from '../../core/tfjs/tfjs-backend';
import { StableDiffusionPipeline } from '../../server/synthesis/sd-pipeline';
import { buildProbeModel, trainProbe } from '../../server/training/probe-trainer';
import { buildResNet } from '../../server/training/resnet';
import { createRng, shuffleInPlace } from '../../server/training/seeded-random';
import { seededFit } from '../../server/training/seeded-fit';
import { scanDataset } from '../../site/dataset/scan-dataset';
import { classPrompts, fillTemplate } from '../../site/prompts/prompt-templates';
import { topVocabulary } from '../../site/prompts/vocabulary-prompts';
import { computeMetrics } from '../../site/evaluate/classification-metrics';
import { Ledger } from '../../site/ledger/ledger';
import {
  DEFAULT_CLASS_TEMPLATE,
  DEFAULT_INSTANCE_TEMPLATE,
  TrainingSettings,
} from '../../shared/study';
import { readPhraseList, resourcePath } from '../resources';
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

export type PaperMethod =
  | 'centralized'
  | 'site alone (mean)'
  | 'FedAvg'
  | 'FGL (class prompts)'
  | 'FGL (vocabulary)'
  | 'FGL + FedAvg';

/** The global model every method trains: the study's MLP probe on mini-CLIP features, or a small ResNet from scratch on pixels. */
export type GlobalModel = 'probe' | 'cnn';
export const GLOBAL_MODELS: readonly GlobalModel[] = ['probe', 'cnn'];

/** full: the documented run; quick: minutes; tiny: seconds-scale sizes for tests (numbers are noise-level). */
export type PaperScale = 'full' | 'quick' | 'tiny';

export type PaperRow = {
  split: string;
  beta: number | null;
  model: GlobalModel;
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
  scale: PaperScale;
  /**
   * Synthesis's negative prompt (classifier-free guidance pushes away from it). Default '': the
   * unconditional input the mini generator was trained with; studies default to
   * 'low quality, low resolution' (docs/experiments.md measures both).
   */
  negativePrompt?: string;
  /** Which splits to run; default the scale's. */
  splits?: readonly Split[];
  /** Which global models to run; default both. */
  globalModels?: readonly GlobalModel[];
  seed: number;
  device: DeviceChoice;
  datasetDir?: string;
  say: (line: string) => void;
  signal?: AbortSignal;
};

type CnnScale = {
  size: number;
  width: number;
  epochs: number;
  rounds: number;
  localEpochs: number;
  fglFedAvgRounds: number;
};
type Scale = {
  splits: readonly Split[];
  images: number;
  fglPerClass: number;
  steps: number;
  probe: { rounds: number; epochs?: number; fglFedAvgRounds: number };
  cnn: CnnScale;
};

/**
 * Sizes per scale. The CNN runs fewer rounds and epochs than the probe: one tfjs thread trains the
 * width-8 ResNet-8 at 32 px at about 170 images per second, so --quick takes about 2 min per split
 * and the full run about 15 (docs/experiments.md).
 */
export const PAPER_SCALES: Record<PaperScale, Scale> = {
  full: {
    splits: PAPER_SPLITS,
    images: 5000,
    fglPerClass: 100,
    steps: 20,
    probe: { rounds: 50, fglFedAvgRounds: 5 },
    // FedAvg: 10 rounds × 1 local epoch, the same passes over the sites' images as centralized's 10 epochs.
    cnn: { size: 32, width: 8, epochs: 10, rounds: 10, localEpochs: 1, fglFedAvgRounds: 3 },
  },
  quick: {
    splits: PAPER_SPLITS,
    images: 1500,
    fglPerClass: 40,
    steps: 20,
    probe: { rounds: 10, epochs: 40, fglFedAvgRounds: 5 },
    cnn: { size: 32, width: 8, epochs: 6, rounds: 3, localEpochs: 1, fglFedAvgRounds: 1 },
  },
  tiny: {
    splits: [PAPER_SPLITS[2]!],
    images: 250,
    fglPerClass: 6,
    steps: 8,
    probe: { rounds: 2, epochs: 15, fglFedAvgRounds: 1 },
    cnn: { size: 32, width: 8, epochs: 1, rounds: 1, localEpochs: 1, fglFedAvgRounds: 1 },
  },
};

export type PaperResult = {
  rows: PaperRow[];
  settings: {
    scale: PaperScale;
    sites: number;
    images: number;
    fglImagesPerClass: number;
    negativePrompt: string;
    vocabulary: string;
    probe: {
      description: string;
      fedAvgRounds: number;
      localEpochs: number;
      fglFedAvgRounds: number;
    };
    cnn: {
      description: string;
      fedAvgRounds: number;
      localEpochs: number;
      epochs: number;
      fglFedAvgRounds: number;
    };
    backend: string;
  };
};

const SITES = 5;
const BYTES_F32 = 4;
/** The paper's FedAvg: 5 local epochs per round, lr 0.01 (here with the probe's Adam, see probe-trainer). */
const LOCAL_EPOCHS = 5;
/** Vocabulary prompts: the nearest phrases of this list, as sites with the default vocabulary send them. */
const VOCABULARY = 'general-photos';
const VOCABULARY_TOP = 3;

type Part = { features: Float32Array[]; labels: number[] };
type SiteData = { train: Part; held: Part };

function concat(parts: Part[]): Part {
  return { features: parts.flatMap((p) => p.features), labels: parts.flatMap((p) => p.labels) };
}

type Scores = { accuracy: number; balancedAccuracy: number };

function scoreProbs(probs: Float32Array[], labels: number[], classes: readonly string[]): Scores {
  const m = computeMetrics(probs, labels, classes);
  return { accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy };
}

/** Sample-count-weighted mean of the sites' weights (FedAvg's server step). */
function averageInto(
  tf: LoadedTf['tf'],
  global: LayersModel,
  locals: { weights: Tensor[]; n: number }[],
): void {
  const total = locals.reduce((a, l) => a + l.n, 0);
  const avg = tf.tidy(() =>
    global
      .getWeights()
      .map((_, i) => tf.addN(locals.map((l) => tf.mul(l.weights[i]!, l.n / total)))),
  );
  global.setWeights(avg);
  avg.forEach((t) => t.dispose());
}

/**
 * FedAvg on the probe: each round every site starts from the global weights, trains LOCAL_EPOCHS
 * epochs on its own features, and the server averages the weights by sample count.
 */
async function fedAvgProbe(
  loaded: LoadedTf,
  sites: SiteData[],
  classes: readonly string[],
  settings: TrainingSettings,
  rounds: number,
  start: LayersModel | null,
) {
  const { tf } = loaded;
  const dim = sites[0]!.train.features[0]!.length;
  const global = buildProbeModel(tf, dim, classes.length, settings.seed);
  if (start) global.setWeights(start.getWeights());
  const params = global.countParams();
  for (let r = 0; r < rounds; r++) {
    const locals: { weights: Tensor[]; n: number }[] = [];
    for (const [k, s] of sites.entries()) {
      if (s.train.labels.length === 0) continue;
      const local = buildProbeModel(tf, dim, classes.length, settings.seed + 1000 * r + k);
      local.setWeights(global.getWeights());
      local.compile({
        optimizer: tf.train.adam(settings.learningRate),
        loss: 'sparseCategoricalCrossentropy',
      });
      const x = tf.tensor2d(
        s.train.features.flatMap((f) => [...f]),
        [s.train.features.length, dim],
      );
      const y = tf.tensor1d(s.train.labels, 'float32');
      await seededFit(tf, local, x, y, {
        epochs: LOCAL_EPOCHS,
        batchSize: settings.batchSize,
        seed: settings.seed + 1000 * r + k,
      });
      locals.push({ weights: local.getWeights().map((w) => w.clone()), n: s.train.labels.length });
      x.dispose();
      y.dispose();
      local.dispose();
    }
    averageInto(tf, global, locals);
    locals.forEach((l) => l.weights.forEach((w) => w.dispose()));
  }
  // Down (global → site) and up (site → server), every participating site, every round.
  return { model: global, bytes: params * BYTES_F32 * 2 * sites.length * rounds };
}

/** The CNN's input: the sites' own evaluation transform (resize, centre crop, ImageNet normalisation). */
function cnnInput(tf: LoadedTf['tf'], images: RgbImage[], size: number): Tensor {
  const x = new Float32Array(images.length * size * size * 3);
  images.forEach((img, i) => x.set(imageToModelInput(tf, img, size), i * size * size * 3));
  return tf.tensor4d(x, [images.length, size, size, 3]);
}

/**
 * The CNN recipe of every method (so they differ only in data): a ResNet-8 from scratch, SGD
 * lr = settings.learningRate (0.01), momentum 0.9, fixed epochs, no augmentation, seeded init.
 */
class CnnRunner {
  constructor(
    private readonly loaded: LoadedTf,
    private readonly classes: readonly string[],
    private readonly cfg: CnnScale,
    private readonly settings: TrainingSettings,
  ) {}

  build(seed: number): LayersModel {
    const model = buildResNet({
      tf: this.loaded.tf,
      inputSize: this.cfg.size,
      classes: this.classes.length,
      seed,
      l2: 1e-4,
      options: { preset: 'resnet8', width: this.cfg.width },
    });
    model.compile({
      optimizer: this.loaded.tf.train.momentum(this.settings.learningRate, 0.9),
      loss: 'sparseCategoricalCrossentropy',
    });
    return model;
  }

  async fit(
    model: LayersModel,
    images: RgbImage[],
    labels: number[],
    epochs: number,
    seed: number,
  ): Promise<void> {
    if (images.length === 0) return;
    const { tf } = this.loaded;
    const x = cnnInput(tf, images, this.cfg.size);
    const y = tf.tensor1d(labels, 'float32');
    try {
      await seededFit(tf, model, x, y, { epochs, batchSize: 32, seed });
    } finally {
      x.dispose();
      y.dispose();
    }
  }

  async train(images: RgbImage[], labels: number[], seed: number): Promise<LayersModel> {
    const model = this.build(seed);
    await this.fit(model, images, labels, this.cfg.epochs, seed);
    return model;
  }

  score(model: LayersModel, images: RgbImage[], labels: number[]): Scores {
    const { tf } = this.loaded;
    const probs: Float32Array[] = [];
    for (let i = 0; i < images.length; i += 64) {
      const x = cnnInput(tf, images.slice(i, i + 64), this.cfg.size);
      const p = model.predict(x) as Tensor;
      const flat = p.dataSync() as Float32Array;
      for (let r = 0; r < p.shape[0]!; r++)
        probs.push(flat.slice(r * this.classes.length, (r + 1) * this.classes.length));
      x.dispose();
      p.dispose();
    }
    return scoreProbs(probs, labels, this.classes);
  }

  async fedAvg(
    sites: { images: RgbImage[]; labels: number[] }[],
    rounds: number,
    start: LayersModel | null,
    seed: number,
  ) {
    const global = this.build(seed);
    if (start) global.setWeights(start.getWeights());
    for (let r = 0; r < rounds; r++) {
      const locals: { weights: Tensor[]; n: number }[] = [];
      for (const [k, s] of sites.entries()) {
        if (s.labels.length === 0) continue;
        const localSeed = seed + 1000 * (r + 1) + k;
        const local = this.build(localSeed);
        local.setWeights(global.getWeights());
        await this.fit(local, s.images, s.labels, this.cfg.localEpochs, localSeed);
        locals.push({ weights: local.getWeights().map((w) => w.clone()), n: s.labels.length });
        local.dispose();
      }
      averageInto(this.loaded.tf, global, locals);
      locals.forEach((l) => l.weights.forEach((w) => w.dispose()));
    }
    return { model: global, bytes: global.countParams() * BYTES_F32 * 2 * sites.length * rounds };
  }
}

/** ImageFolder images of `classes` as RGB, in scanDataset's order (the order folderFeatures uses). */
async function folderImages(
  dir: string,
  classes: readonly string[],
  signal?: AbortSignal,
): Promise<RgbImage[]> {
  const scan = await scanDataset(dir, signal ? { signal } : {});
  const known = new Set(classes);
  const out: RgbImage[] = [];
  for (const u of scan.usable.filter((x) => known.has(x.label))) {
    const d = await decodeImage(join(scan.root, ...u.path.split('/')), signal ? { signal } : {});
    out.push({ data: d.data, width: d.width, height: d.height });
  }
  return out;
}

/**
 * The paper's comparison on the mini bundle and Fashion-MNIST: 5 sites with Dirichlet(β) label
 * skew (and IID), each with a held-out part; the global test set is the union of the held-out
 * parts. Every method trains the same global model family (the study's MLP probe on the mini
 * CLIP's features, and a small ResNet from scratch on pixels) and is scored on the same test set.
 * FGL is one round: the server synthesizes fglPerClass images per class held anywhere from the
 * sites' conditioning, with class prompts or with vocabulary prompts (each image's nearest phrases
 * of the general vocabulary in CLIP space, as prepare makes them).
 */
export async function runPaperExperiment(o: PaperOptions): Promise<PaperResult> {
  const models = await describeModelsFolder(o.modelsDir);
  if (!models.mini)
    throw Object.assign(
      new Error(
        `${o.modelsDir} is not the mini bundle: the experiment needs models trained on Fashion-MNIST`,
      ),
      { hint: 'Use --models mini (the default).' },
    );
  const sc = PAPER_SCALES[o.scale];
  const globalModels = o.globalModels ?? GLOBAL_MODELS;
  const settings = TrainingSettings.parse({
    seed: o.seed,
    ...(sc.probe.epochs ? { epochs: sc.probe.epochs } : {}),
  });
  const loaded = await loadTf();
  const { tf } = loaded;
  const classes = [] as string[];
  const rows: PaperRow[] = [];
  await mkdir(o.workDir, { recursive: true });
  const phrases = await readPhraseList(resourcePath(`vocabulary/${VOCABULARY}.txt`));

  const clip: ClipModel = await loadClip(models.clip.dir, { device: o.device });
  const pipeline = await StableDiffusionPipeline.load(models.generator.dir, {
    device: o.device,
    batchSize: 8,
  });
  const encoder = await loadTextEncoder(models.generator.dir, { device: o.device });
  const condBytes = TEXT_SEQUENCE_LENGTH * encoder.dim * 2 + 8;
  // Class-prompt images depend only on the class, so they are made once for every split.
  const classSynthetic = new Map<number, { features: Float32Array[]; images: RgbImage[] }>();
  try {
    const negative = await pipeline.encodeNegative(o.negativePrompt ?? '');
    const phraseClip = await clip.embedTexts(phrases);
    const synthesize = async (prompts: string[], seeds: number[]) => {
      const conditioning = await encoder.encode(prompts);
      const gen = await pipeline.generate({
        conditioning,
        negative,
        guidance: 2,
        scheduler: 'pndm',
        steps: sc.steps,
        height: 64,
        width: 64,
        seeds,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const images = gen.images.map((data) => ({ data, width: gen.width, height: gen.height }));
      const features = await clip.embedImages(images.map((i) => ({ ...i, channels: 3 as const })));
      return { images, features };
    };

    for (const split of o.splits ?? sc.splits) {
      o.signal?.throwIfAborted();
      const dir = join(o.workDir, split.label.replace(/[^a-z0-9.]+/gi, '-'));
      const data = await makeFashionSampleData(join(dir, 'data'), {
        sites: SITES,
        beta: Number.isFinite(split.beta) ? split.beta : 1e6,
        seed: o.seed,
        images: sc.images,
        minPerSite: 10,
        force: true,
        ...(o.datasetDir ? { datasetDir: o.datasetDir } : {}),
      });
      if (classes.length === 0) classes.push(...data.classes);
      const ledger = Ledger.open(join(dir, 'features.sqlite'));
      const sites: SiteData[] = [];
      try {
        for (const s of data.sites) {
          const f = {
            ledger,
            clipDigest: models.clip.sha256!,
            classes,
            ...(o.signal ? { signal: o.signal } : {}),
          };
          sites.push({
            train: await folderFeatures(f, s.dir, clip),
            held: await folderFeatures(f, s.eval!.dir, clip),
          });
        }
      } finally {
        ledger.close();
      }
      const test = concat(sites.map((s) => s.held));
      const beta = Number.isFinite(split.beta) ? split.beta : null;
      const push = (
        model: GlobalModel,
        method: PaperMethod,
        m: Scores,
        bytes: number,
        r: number,
      ) => {
        rows.push({ split: split.label, beta, model, method, ...m, bytes, rounds: r });
        o.say(
          `${split.label.padEnd(7)} ${model.padEnd(5)} ${method.padEnd(20)} accuracy ${(m.accuracy * 100).toFixed(1)}%  bytes ${bytes}`,
        );
      };

      // FGL's one round. Class prompts: each site sends one conditioning row per class it holds.
      // Vocabulary prompts: one row per synthetic image, the prompt of one of the site's own
      // images of that class (round-robin over the sites holding it, seeded order).
      const held = [...new Set(sites.flatMap((s) => s.train.labels))].sort((a, b) => a - b);
      const fglClass = {
        features: [] as Float32Array[],
        images: [] as RgbImage[],
        labels: [] as number[],
      };
      const fglVocab = {
        features: [] as Float32Array[],
        images: [] as RgbImage[],
        labels: [] as number[],
      };
      const classRows = sites.reduce((a, s) => a + new Set(s.train.labels).size, 0);
      let vocabRows = 0;
      const rng = createRng(o.seed);
      for (const c of held) {
        o.signal?.throwIfAborted();
        const seeds = Array.from(
          { length: sc.fglPerClass },
          (_, i) => o.seed * 100_000 + c * 1000 + i,
        );
        if (!classSynthetic.has(c)) {
          const prompt = classPrompts([DEFAULT_CLASS_TEMPLATE], classes[c]!)[0]!;
          classSynthetic.set(
            c,
            await synthesize(
              seeds.map(() => prompt),
              seeds,
            ),
          );
        }
        const cs = classSynthetic.get(c)!;
        fglClass.features.push(...cs.features);
        fglClass.images.push(...cs.images);
        fglClass.labels.push(...cs.features.map(() => c));

        const queues = sites
          .map((s) =>
            shuffleInPlace(
              s.train.labels.flatMap((l, i) => (l === c ? [i] : [])),
              rng,
            ).map((i) => s.train.features[i]!),
          )
          .filter((q) => q.length > 0);
        const prompts = seeds.map((_, i) => {
          const q = queues[i % queues.length]!;
          const image = q[Math.floor(i / queues.length) % q.length]!;
          const picked = topVocabulary(image, phraseClip, phrases, VOCABULARY_TOP).map(
            (p) => p.phrase,
          );
          return fillTemplate(DEFAULT_INSTANCE_TEMPLATE, {
            class: classes[c]!,
            caption: picked.join(', '),
          });
        });
        vocabRows += prompts.length;
        const vs = await synthesize(prompts, seeds);
        fglVocab.features.push(...vs.features);
        fglVocab.images.push(...vs.images);
        fglVocab.labels.push(...vs.features.map(() => c));
      }
      const classBytes = classRows * condBytes;
      const vocabBytes = vocabRows * condBytes;

      if (globalModels.includes('probe')) {
        const probe = async (features: Float32Array[], labels: number[]) =>
          trainProbe({ features, labels, classes, settings, tf: loaded });
        const score = (m: LayersModel) =>
          scoreProbs(predictProbabilities(tf, m, test.features), test.labels, classes);
        const all = concat(sites.map((s) => s.train));
        const central = await probe(all.features, all.labels);
        push('probe', 'centralized', score(central.model), 0, 0);
        central.model.dispose();

        const alone = { accuracy: 0, balancedAccuracy: 0 };
        for (const s of sites) {
          const r = await probe(s.train.features, s.train.labels).catch(() => null);
          // A site with one class (or one image per class) cannot hold out validation data: it predicts its one class.
          const m = r
            ? score(r.model)
            : {
                accuracy:
                  test.labels.filter((l) => l === s.train.labels[0]).length / test.labels.length,
                balancedAccuracy: 1 / classes.length,
              };
          r?.model.dispose();
          alone.accuracy += m.accuracy / sites.length;
          alone.balancedAccuracy += m.balancedAccuracy / sites.length;
        }
        push('probe', 'site alone (mean)', alone, 0, 0);

        const fed = await fedAvgProbe(loaded, sites, classes, settings, sc.probe.rounds, null);
        push('probe', 'FedAvg', score(fed.model), fed.bytes, sc.probe.rounds);
        fed.model.dispose();

        const fglV = await probe(fglVocab.features, fglVocab.labels);
        push('probe', 'FGL (vocabulary)', score(fglV.model), vocabBytes, 1);
        fglV.model.dispose();
        const fgl = await probe(fglClass.features, fglClass.labels);
        push('probe', 'FGL (class prompts)', score(fgl.model), classBytes, 1);
        const both = await fedAvgProbe(
          loaded,
          sites,
          classes,
          settings,
          sc.probe.fglFedAvgRounds,
          fgl.model,
        );
        push(
          'probe',
          'FGL + FedAvg',
          score(both.model),
          classBytes + both.bytes,
          1 + sc.probe.fglFedAvgRounds,
        );
        both.model.dispose();
        fgl.model.dispose();
      }

      if (globalModels.includes('cnn')) {
        const cnn = new CnnRunner(loaded, classes, sc.cnn, settings);
        const siteImages = [];
        for (const [i, s] of data.sites.entries())
          siteImages.push({
            images: await folderImages(s.dir, classes, o.signal),
            labels: sites[i]!.train.labels,
          });
        const testImages: RgbImage[] = [];
        for (const s of data.sites)
          testImages.push(...(await folderImages(s.eval!.dir, classes, o.signal)));
        const score = (m: LayersModel) => cnn.score(m, testImages, test.labels);
        const seed = o.seed;

        const central = await cnn.train(
          siteImages.flatMap((s) => s.images),
          siteImages.flatMap((s) => s.labels),
          seed,
        );
        push('cnn', 'centralized', score(central), 0, 0);
        central.dispose();

        const alone = { accuracy: 0, balancedAccuracy: 0 };
        for (const s of siteImages) {
          const m = await cnn.train(s.images, s.labels, seed);
          const r = score(m);
          m.dispose();
          alone.accuracy += r.accuracy / siteImages.length;
          alone.balancedAccuracy += r.balancedAccuracy / siteImages.length;
        }
        push('cnn', 'site alone (mean)', alone, 0, 0);

        const fed = await cnn.fedAvg(siteImages, sc.cnn.rounds, null, seed);
        push('cnn', 'FedAvg', score(fed.model), fed.bytes, sc.cnn.rounds);
        fed.model.dispose();

        const fglV = await cnn.train(fglVocab.images, fglVocab.labels, seed);
        push('cnn', 'FGL (vocabulary)', score(fglV), vocabBytes, 1);
        fglV.dispose();
        const fgl = await cnn.train(fglClass.images, fglClass.labels, seed);
        push('cnn', 'FGL (class prompts)', score(fgl), classBytes, 1);
        const both = await cnn.fedAvg(siteImages, sc.cnn.fglFedAvgRounds, fgl, seed);
        push(
          'cnn',
          'FGL + FedAvg',
          score(both.model),
          classBytes + both.bytes,
          1 + sc.cnn.fglFedAvgRounds,
        );
        both.model.dispose();
        fgl.dispose();
      }
    }
  } finally {
    await encoder.dispose();
    await pipeline.dispose();
    await clip.dispose();
  }
  return {
    rows,
    settings: {
      scale: o.scale,
      sites: SITES,
      images: sc.images,
      fglImagesPerClass: sc.fglPerClass,
      negativePrompt: o.negativePrompt ?? '',
      vocabulary: `${VOCABULARY} (top ${VOCABULARY_TOP} phrases per image, instance template)`,
      probe: {
        description: `MLP on mini-CLIP features (hidden 256), Adam lr ${settings.learningRate}, early stopping`,
        fedAvgRounds: sc.probe.rounds,
        localEpochs: LOCAL_EPOCHS,
        fglFedAvgRounds: sc.probe.fglFedAvgRounds,
      },
      cnn: {
        description: `ResNet-8 (width ${sc.cnn.width}) from scratch at ${sc.cnn.size} px, SGD lr ${settings.learningRate} momentum 0.9, no augmentation`,
        fedAvgRounds: sc.cnn.rounds,
        localEpochs: sc.cnn.localEpochs,
        epochs: sc.cnn.epochs,
        fglFedAvgRounds: sc.cnn.fglFedAvgRounds,
      },
      backend: loaded.backend,
    },
  };
}
