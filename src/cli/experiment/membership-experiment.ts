import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadClip, type ClipModel } from '../../core/inference/clip-model';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { loadModelFromDir } from '../../core/tfjs/file-io';
import { predictProbabilities } from '../../core/tfjs/predict-probabilities';
import { loadTf, type LoadedTf } from '../../core/tfjs/tfjs-backend';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import type { StageContext } from '../../server/jobs/round-stages';
import type { StoredPackage } from '../../server/store/server-store';
import { buildProbeModel, trainProbe } from '../../server/training/probe-trainer';
import { seededFit } from '../../server/training/seeded-fit';
import { stratifiedSplit } from '../../server/training/stratified-split';
import type { StudyManifest, TrainingSettings } from '../../shared/study';
import { computeMetrics } from '../../site/evaluate/classification-metrics';
import { Ledger } from '../../site/ledger/ledger';
import { preparePackage } from '../../site/prepare/prepare-package';
import {
  attackFeatures,
  attackScore,
  aucWithBootstrapCi,
  classMatched,
  fitAttackModel,
  trueClassLogOdds,
  type AucWithCi,
} from '../../site/privacy/membership-inference';
import { folderFeatures } from '../demo/site-alone';
import { readPhraseList, resourcePath } from '../resources';
import { makeFashionSampleData } from '../sample-data/fashion-sample-data';
import { buildStudyManifest } from '../study/build-study';
import { describeModelsFolder, type ModelsFolder } from '../study/models-folder';

/** The models attacked: FGL's published model and the two positive controls trained on the site's images themselves. */
export type MembershipTarget = 'fgl' | 'site-alone' | 'site-alone-overfit';
export const MEMBERSHIP_TARGETS: readonly MembershipTarget[] = ['fgl', 'site-alone', 'site-alone-overfit'];

export type MembershipOptions = {
  modelsDir: string;
  workDir: string;
  seed: number;
  device: DeviceChoice;
  /** Sites per federation (the target and every shadow federation). */
  sites: number;
  /** Fashion-MNIST test images per federation (half of each site's per class held out as non-members). */
  images: number;
  /** Shadow federations, on data disjoint from the target's and from each other. */
  shadows: number;
  beta: number;
  /** Epochs of the memorising positive control (all members, no early stopping). */
  controlEpochs: number;
  /** Bootstrap resamples for each 95 % interval. */
  bootstrap: number;
  /** Synthetic images per package row; default the demo study's 8. */
  imagesPerRow?: number;
  datasetDir?: string;
  say: (line: string) => void;
  signal?: AbortSignal;
};

export type SiteMembership = {
  site: string;
  /**
   * Members: the images the site prepared its package from (its train part, a random half of each
   * class); non-members: its held-out images; class-matched. The split is random, so the two sets
   * differ only in what the model was trained on.
   */
  members: number;
  nonMembers: number;
  /** Members whose row was blocked or whose class was below k: they never left the site. */
  notSent: number;
  lossThreshold: AucWithCi;
  shadow: AucWithCi;
  /**
   * The same attacks with only the members whose row was sent. Which rows are sent depends on the
   * images (k, the singling-out test), so these are not a random subset: a difference from the
   * figures above can come from that selection as well as from the model.
   */
  sentRowsOnly: { lossThreshold: AucWithCi; shadow: AucWithCi };
  /** Accuracy of the attacked model on the held-out (non-member) images and on the members. */
  accuracy: { members: number; nonMembers: number };
};

export type MembershipResult = {
  settings: {
    sites: number;
    imagesPerFederation: number;
    shadows: number;
    beta: number;
    seed: number;
    controlEpochs: number;
    bootstrap: number;
    promptMode: 'vocabulary';
    aggregation: 'cluster';
    k: number;
    imagesPerRow: number;
    training: TrainingSettings;
  };
  targets: Record<MembershipTarget, { description: string; sites: SiteMembership[]; pooled: { lossThreshold: AucWithCi; shadow: AucWithCi } }>;
};

const DESCRIPTIONS: Record<MembershipTarget, string> = {
  fgl: "FGL's published model: the study's probe trained by the round on images synthesized from every site's package",
  'site-alone': "positive control: the study's probe trained on the site's own member images (the study's recipe, early stopping on a validation part)",
  'site-alone-overfit': "positive control: the study's probe fitted to all of the site's own member images for a fixed number of epochs (nothing held out, no early stopping)",
};

/** Any fixed instant; see runMembershipExperiment. */
const STUDY_CREATED_AT = '2026-01-01T00:00:00.000Z';

/** `sent`: a member whose row was in the package (always false for a non-member). */
type Sample = { label: number; features: Float32Array; sent: boolean };
type ScoredSample = { label: number; probs: Float32Array; sent: boolean };
/** One attacked model's outputs on one site's members and non-members. */
type SiteOutputs = { site: string; notSent: number; members: ScoredSample[]; nonMembers: ScoredSample[] };

/** The in-process round: exactly the stages the server runs (synthesis from the packages' rows, then the probe). */
async function runRound(study: StudyManifest, models: ModelsFolder, packages: StoredPackage[], dir: string, device: DeviceChoice, signal: AbortSignal): Promise<string> {
  let state: unknown = null;
  const ctx: StageContext = {
    roundId: 'membership',
    study,
    packages,
    workDir: dir,
    signal,
    log: pino({ level: 'silent' }),
    progress: () => {},
    checkpoint: { get: () => state, set: (v) => void (state = v) },
  };
  const stages = createDiffusionStages({ generatorDir: models.generator.dir, clipDir: models.clip.dir, ...(models.encoderDir ? { encoderDir: models.encoderDir } : {}), device, batchSize: 8 });
  await stages.synthesize(ctx);
  return (await stages.train(ctx)).modelDir;
}

type SiteData = { site: string; members: Sample[]; nonMembers: Sample[]; notSent: number };

/**
 * One federation: every site prepares its package with the production code (its own ledger),
 * the round synthesizes and trains the published model. Members of a site are its train images
 * (marked `sent` when their unit is in a released row, from the ledger), non-members its
 * held-out images.
 */
async function federation(
  o: MembershipOptions,
  study: StudyManifest,
  models: ModelsFolder,
  clip: ClipModel,
  sites: { name: string; dir: string; eval: string }[],
  dir: string,
  signal: AbortSignal,
): Promise<{ modelDir: string; sites: SiteData[] }> {
  const packages: StoredPackage[] = [];
  const data: SiteData[] = [];
  for (const [i, s] of sites.entries()) {
    const ledger = Ledger.open(join(dir, s.name, 'ledger.sqlite'));
    try {
      const siteId = `${s.name}-${i}`;
      const prepared = await preparePackage({
        ledger,
        dataDir: s.dir,
        study,
        siteId,
        models: { clip: models.clip.dir, generator: models.generator.dir, encoder: models.encoderDir, captioner: models.captioner?.dir ?? null, tiny: models.tiny },
        promptMode: 'vocabulary',
        aggregation: 'cluster',
        outDir: join(dir, s.name, 'package'),
        device: o.device,
        seed: o.seed,
        signal,
      });
      if (prepared.sha256 === null || prepared.bytes === null)
        throw new Error(`${s.name}: prepare made a DP plan, not a package; the membership experiment's study runs without DP`);
      packages.push({ sha256: prepared.sha256, studyId: study.id, siteId, bytes: prepared.bytes, rows: prepared.report.outgoing.rows, metadata: {}, receivedAt: new Date().toISOString(), path: prepared.packagePath });
      const released = new Set(ledger.releasedRows.forStudy(study.id).flatMap((r) => r.units));
      const f = { ledger, clipDigest: models.clip.sha256!, classes: study.classes, signal };
      const train = await folderFeatures(f, s.dir, clip);
      const held = await folderFeatures(f, s.eval, clip);
      const members: Sample[] = train.images.map((img, j) => ({ label: train.labels[j]!, features: train.features[j]!, sent: released.has(`image:${img.sha256}`) }));
      const notSent = members.filter((m) => !m.sent).length;
      const nonMembers = held.features.map((features, j) => ({ label: held.labels[j]!, features, sent: false }));
      data.push({ site: s.name, members, nonMembers, notSent });
      o.say(`  [${s.name}] ${prepared.report.outgoing.rows} rows sent; ${members.length} member images (${notSent} of them in rows not sent), ${nonMembers.length} held out`);
    } finally {
      ledger.close();
    }
  }
  const modelDir = await runRound(study, models, packages, join(dir, 'round'), o.device, signal);
  return { modelDir, sites: data };
}

function scoreWith(tf: LoadedTf['tf'], model: LayersModel, xs: Sample[]): ScoredSample[] {
  const probs = predictProbabilities(tf, model, xs.map((x) => x.features));
  return xs.map((x, i) => ({ label: x.label, probs: probs[i]!, sent: x.sent }));
}

/**
 * The first positive control for one site: the study's probe trained on the site's member images
 * with the study's recipe (trainProbe: a validation part, early stopping, best epoch restored).
 * Its members are the images its gradient steps saw; the validation part is neither.
 */
async function siteAloneOutputs(loaded: LoadedTf, study: StudyManifest, s: SiteData): Promise<SiteOutputs | null> {
  const labels = s.members.map((m) => m.label);
  if (new Set(labels).size < 2) return null;
  const settings = study.training;
  const r = await trainProbe({ features: s.members.map((m) => m.features), labels, classes: study.classes, settings, tf: loaded });
  try {
    const fitted = stratifiedSplit(labels, settings.validationSplit, settings.seed).train.map((i) => s.members[i]!);
    return { site: s.site, notSent: s.notSent, members: scoreWith(loaded.tf, r.model, fitted), nonMembers: scoreWith(loaded.tf, r.model, s.nonMembers) };
  } finally {
    r.model.dispose();
  }
}

/**
 * The second positive control: the same probe (architecture, seed, Adam at the study's rate) fitted
 * to every member image for `epochs` epochs with nothing held out and no early stopping, what a
 * model that memorises its data looks like. The attacks must find its members.
 */
async function overfitOutputs(loaded: LoadedTf, study: StudyManifest, s: SiteData, epochs: number): Promise<SiteOutputs | null> {
  if (s.members.length < 2) return null;
  const { tf } = loaded;
  const dim = s.members[0]!.features.length;
  const settings = study.training;
  const model = buildProbeModel(tf, dim, study.classes.length, settings.seed);
  try {
    model.compile({ optimizer: tf.train.adam(settings.learningRate), loss: 'sparseCategoricalCrossentropy' });
    const x = tf.tensor2d(s.members.flatMap((m) => [...m.features]), [s.members.length, dim]);
    const y = tf.tensor1d(s.members.map((m) => m.label), 'float32');
    try {
      // Seeded order and dropout masks: with tfjs's Math.random masks the control's pooled AUC
      // moved between runs enough to fail tests/integration/membership-inference.test.ts.
      await seededFit(tf, model, x, y, { epochs, batchSize: settings.batchSize, seed: settings.seed });
    } finally {
      x.dispose();
      y.dispose();
    }
    return { site: s.site, notSent: s.notSent, members: scoreWith(tf, model, s.members), nonMembers: scoreWith(tf, model, s.nonMembers) };
  } finally {
    model.dispose();
  }
}

async function outputsOf(o: MembershipOptions, loaded: LoadedTf, study: StudyManifest, fed: { modelDir: string; sites: SiteData[] }): Promise<Record<MembershipTarget, SiteOutputs[]>> {
  const model = await loadModelFromDir(fed.modelDir, loaded.tf);
  const fgl: SiteOutputs[] = [];
  try {
    for (const s of fed.sites) fgl.push({ site: s.site, notSent: s.notSent, members: scoreWith(loaded.tf, model, s.members), nonMembers: scoreWith(loaded.tf, model, s.nonMembers) });
  } finally {
    model.dispose();
  }
  const alone: SiteOutputs[] = [];
  const overfit: SiteOutputs[] = [];
  for (const s of fed.sites) {
    const a = await siteAloneOutputs(loaded, study, s);
    if (a) alone.push(a);
    const b = await overfitOutputs(loaded, study, s, o.controlEpochs);
    if (b) overfit.push(b);
  }
  return { fgl, 'site-alone': alone, 'site-alone-overfit': overfit };
}

function accuracyOf(xs: ScoredSample[], classes: readonly string[]): number {
  return xs.length === 0 ? NaN : computeMetrics(xs.map((x) => x.probs), xs.map((x) => x.label), classes).accuracy;
}

/**
 * Membership inference against FGL's published model on the mini bundle (Fashion-MNIST test
 * split, never seen by the mini models): a target federation and `shadows` shadow federations
 * on disjoint images, each run through the production prepare and the server's round stages.
 * Two attacks per site (loss threshold; a logistic-regression attack fitted on the shadow
 * federations' outputs), AUC with a bootstrap 95 % interval, and the same attacks against positive
 * controls trained directly on the member images, which must come out clearly above 0.5.
 */
export async function runMembershipExperiment(o: MembershipOptions): Promise<MembershipResult> {
  const models = await describeModelsFolder(o.modelsDir);
  if (!models.mini)
    throw Object.assign(new Error(`${o.modelsDir} is not the mini bundle: the experiment needs models trained on Fashion-MNIST`), { hint: 'Use --models mini (the default).' });
  if (o.sites < 1 || o.shadows < 1) throw Object.assign(new Error('The experiment needs at least one site and one shadow federation.'), { hint: 'Pass --sites ≥ 1 and --shadows ≥ 1.' });
  const signal = o.signal ?? new AbortController().signal;
  await mkdir(o.workDir, { recursive: true });
  const feds = 1 + o.shadows;
  // One split of the test split over every federation's sites: the federations' images are
  // disjoint and drawn from one distribution. Half of each site's images per class are held out.
  const data = await makeFashionSampleData(join(o.workDir, 'data'), {
    sites: o.sites * feds,
    beta: o.beta,
    seed: o.seed,
    images: o.images * feds,
    evalFraction: 0.5,
    minPerSite: 20,
    force: true,
    ...(o.datasetDir ? { datasetDir: o.datasetDir } : {}),
  });
  // The demo's study (run-demo.ts): k = 3, the shapes vocabulary, 8 images per row.
  const study = buildStudyManifest({
    id: 'membership-inference',
    name: 'membership inference',
    classes: data.classes,
    models,
    k: 3,
    vocabulary: await readPhraseList(resourcePath('vocabulary/shapes.txt')),
    imagesPerRow: o.imagesPerRow ?? 8,
  });
  study.training = { ...study.training, seed: o.seed };
  // Synthesis seeds follow each package's sha256, which covers the study's hash: a fixed creation
  // time makes a rerun with the same seed synthesize the same images.
  study.createdAt = STUDY_CREATED_AT;
  const loaded = await loadTf();
  const clip = await loadClip(models.clip.dir, { device: o.device });
  const outputs: Record<MembershipTarget, SiteOutputs[]>[] = [];
  try {
    for (let f = 0; f < feds; f++) {
      signal.throwIfAborted();
      const sites = data.sites.slice(f * o.sites, (f + 1) * o.sites).map((s) => ({ name: s.name, dir: s.dir, eval: s.eval!.dir }));
      o.say(f === 0 ? `Target federation (${sites.map((s) => s.name).join(', ')})` : `Shadow federation ${f} (${sites.map((s) => s.name).join(', ')})`);
      const fed = await federation(o, study, models, clip, sites, join(o.workDir, f === 0 ? 'target' : `shadow-${f}`), signal);
      outputs.push(await outputsOf(o, loaded, study, fed));
    }
  } finally {
    await clip.dispose();
  }

  const targets = {} as MembershipResult['targets'];
  for (const [t, target] of MEMBERSHIP_TARGETS.entries()) {
    // The shadow attack for this kind of model: fitted on the shadow federations' models of the same kind.
    const shadowX: number[][] = [];
    const shadowY: boolean[] = [];
    for (const fed of outputs.slice(1))
      for (const s of fed[target]) {
        const m = classMatched(s.members, s.nonMembers);
        for (const [xs, member] of [[m.members, true], [m.nonMembers, false]] as const)
          for (const x of xs) {
            shadowX.push(attackFeatures(x.probs, x.label));
            shadowY.push(member);
          }
      }
    const attack = fitAttackModel(shadowX, shadowY);
    const loss = (x: ScoredSample) => trueClassLogOdds(x.probs, x.label);
    const shadow = (x: ScoredSample) => attackScore(attack, attackFeatures(x.probs, x.label));
    const ci = (i: number, score: (x: ScoredSample) => number, m: { members: ScoredSample[]; nonMembers: ScoredSample[] }) =>
      aucWithBootstrapCi(m.members.map(score), m.nonMembers.map(score), { rounds: o.bootstrap, seed: o.seed * 1000 + t * 100 + i });
    const matched = outputs[0]![target].map((s) => ({ s, m: classMatched(s.members, s.nonMembers), sent: classMatched(s.members.filter((x) => x.sent), s.nonMembers) }));
    const sites: SiteMembership[] = matched.map(({ s, m, sent }, i) => ({
      site: s.site,
      members: m.members.length,
      nonMembers: m.nonMembers.length,
      notSent: s.notSent,
      lossThreshold: ci(i, loss, m),
      shadow: ci(i, shadow, m),
      sentRowsOnly: { lossThreshold: ci(50 + i, loss, sent), shadow: ci(50 + i, shadow, sent) },
      accuracy: { members: accuracyOf(m.members, study.classes), nonMembers: accuracyOf(m.nonMembers, study.classes) },
    }));
    const all = { members: matched.flatMap((x) => x.m.members), nonMembers: matched.flatMap((x) => x.m.nonMembers) };
    targets[target] = { description: DESCRIPTIONS[target], sites, pooled: { lossThreshold: ci(99, loss, all), shadow: ci(98, shadow, all) } };
    for (const s of sites)
      o.say(`${target.padEnd(18)} ${s.site.padEnd(8)} loss AUC ${s.lossThreshold.auc.toFixed(3)} [${s.lossThreshold.low.toFixed(3)}, ${s.lossThreshold.high.toFixed(3)}]  shadow AUC ${s.shadow.auc.toFixed(3)} [${s.shadow.low.toFixed(3)}, ${s.shadow.high.toFixed(3)}]  (${s.members} + ${s.nonMembers})`);
  }
  return {
    settings: {
      sites: o.sites,
      imagesPerFederation: o.images,
      shadows: o.shadows,
      beta: o.beta,
      seed: o.seed,
      controlEpochs: o.controlEpochs,
      bootstrap: o.bootstrap,
      promptMode: 'vocabulary',
      aggregation: 'cluster',
      k: study.privacy.k,
      imagesPerRow: study.generator.imagesPerRow,
      training: study.training,
    },
    targets,
  };
}
