import http from 'node:http';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import axios from 'axios';
import { createServer } from '../../server/create-server';
import { createDiffusionStages } from '../../server/jobs/diffusion-round-stages';
import type { CreateStudyBody } from '../../shared/server-api';
import { EnrollmentTokenResponse, RoundStatus, StartRoundResponse } from '../../shared/server-api';
import { StudyManifest } from '../../shared/study';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { Ledger } from '../../site/ledger/ledger';
import { enrollSite, clientForStudy } from '../../site/client/enroll-site';
import { uploadPackage } from '../../site/client/upload-package';
import { pullModel } from '../../site/client/pull-model';
import { preparePackage } from '../../site/prepare/prepare-package';
import { evaluateModel } from '../../site/evaluate/evaluate-model';
import { aggregateMetricsForServer } from '../../site/evaluate/aggregate-metrics-for-server';
import { makeSampleData, type SampleDataResult } from '../sample-data/make-sample-data';
import { makeFashionSampleData } from '../sample-data/fashion-sample-data';
import { siteAloneMetrics } from './site-alone';
import { modelDigest } from '../../core/models/model-digest';
import { buildStudyManifest } from '../study/build-study';
import { describeModelsFolder } from '../study/models-folder';
import { readPhraseList, resourcePath } from '../resources';

export type DemoOptions = {
  sites: number;
  beta: number;
  /** Shapes data set only (the mini bundle's sites always hold Fashion-MNIST's 10 classes). */
  classes: number;
  perClass: number;
  /** Mini bundle: Fashion-MNIST test images across all sites (train + held-out parts). */
  images?: number;
  /** Mini bundle: where the Fashion-MNIST IDX files are (default: Debian's package, else the repo's subset). */
  datasetDir?: string;
  seed: number;
  modelsDir: string;
  device: DeviceChoice;
  /** Where everything goes (server data, site ledgers, reports); default a new temp folder, kept. */
  workDir?: string;
  signal?: AbortSignal;
  /** One human line per step (stderr). */
  say: (line: string) => void;
  /** Sites opt in to send their aggregate metrics to the server (off unless asked). */
  shareMetrics?: boolean;
};

export type DemoSiteResult = {
  site: string;
  siteId: string;
  images: number;
  classes: Record<string, number>;
  packageRows: number;
  blockedRows: number;
  suppressedClasses: number;
  bytesUploaded: number;
  modelVerified: boolean;
  evaluatedImages: number;
  accuracy: number;
  balancedAccuracy: number;
  /** The same probe trained on this site's own images only, on the same held-out images (mini bundle). */
  alone: { accuracy: number; balancedAccuracy: number } | null;
  reportMarkdown: string;
};

export type DemoResult = {
  tinyModels: boolean;
  miniModels: boolean;
  /** Where the sites' images came from. */
  dataset: { name: 'fashion-mnist'; split: 'test'; source: string } | { name: 'shapes' };
  serverUrl: string;
  studyId: string;
  serverKeyFingerprint: string;
  workDir: string;
  sites: DemoSiteResult[];
  round: { id: string; modelVersion: number; syntheticImages: number; stageSeconds: Record<string, number>; valAccuracy: number };
  /** The sampling the study chose from the generator's scheduler config, and why. */
  generator: { scheduler: string; steps: number; guidance: number; negativePrompt: string; width: number; height: number; recipeReason: string };
  bytes: { uploadedTotal: number; fedAvgResNet18PerRound: number; fedAvgResNet18Params: number };
  /** Every file the server stored, relative to its data dir (the demo test checks no image is among them). */
  serverFiles: string[];
};

function pickSampling(g: StudyManifest['generator']) {
  return { scheduler: g.scheduler, steps: g.steps, guidance: g.guidance, negativePrompt: g.negativePrompt, width: g.width, height: g.height };
}

/** torchvision ResNet-18 (1000 classes): the model FedAvg would ship, the paper's baseline. */
export const RESNET18_PARAMS = 11_689_512;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  return out.sort();
}

/**
 * The whole federation on one machine: a server on loopback with embedded storage, N sites with
 * their own ledgers and Dirichlet-skewed data, each preparing and uploading a package; one
 * round of synthesis + training; each site pulls, verifies and evaluates the signed model.
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const work = o.workDir ?? (await mkdtemp(join(tmpdir(), 'fgl-demo-')));
  await mkdir(work, { recursive: true });
  const models = await describeModelsFolder(o.modelsDir);
  const server = await createServer({
    dataDir: join(work, 'server'),
    host: '127.0.0.1',
    port: 0,
    logger: { level: 'warn' },
    stages: createDiffusionStages({ generatorDir: models.generator.dir, clipDir: models.clip.dir, encoderDir: models.encoderDir, device: o.device, batchSize: 4 }),
  });
  const ledgers: Ledger[] = [];
  try {
    const url = await server.start();
    // No keep-alive: this process also runs the round, and ONNX Runtime loads a model
    // synchronously (seconds to a minute at real size), so a kept-alive socket can time out under
    // a poll that is already on its way (read ECONNRESET). A fresh connection just waits.
    const admin = axios.create({ baseURL: `${url}/v1/`, httpAgent: new http.Agent({ keepAlive: false }), headers: { authorization: `Bearer ${(await readFile(server.layout.adminKey, 'utf8')).trim()}` } });
    o.say(`Server on ${url} (data in ${server.layout.root}); signing key ${server.signingKey.fingerprint.slice(0, 16)}…`);

    // The study coordinator's part. The mini bundle knows Fashion-MNIST: its sites hold real test images
    // with a held-out part each; other models get drawn shapes.
    const fashion = models.mini
      ? await makeFashionSampleData(join(work, 'data'), { sites: o.sites, beta: o.beta, seed: o.seed, images: o.images ?? 1500, minPerSite: 40, force: true, ...(o.datasetDir ? { datasetDir: o.datasetDir } : {}) })
      : null;
    const data: SampleDataResult = fashion ?? (await makeSampleData(join(work, 'data'), { classes: o.classes, perClass: o.perClass, seed: o.seed, sites: o.sites, beta: o.beta, minPerSite: 10, force: true }));
    const manifest = buildStudyManifest({
      name: fashion ? 'FGL demo: Fashion-MNIST' : 'FGL demo: shapes and textures',
      classes: data.classes,
      models,
      k: 3,
      vocabulary: await readPhraseList(resourcePath('vocabulary/shapes.txt')),
      // Synthesis dominates the demo's time: with the mini bundle ~140 rows × 8 images took 8 of its
      // ~10 minutes on 2 loaded cores; 2 per row keeps the probe far above chance (docs/experiments.md:
      // 6–40 synthetic images per class already give 75–80 %).
      imagesPerRow: models.tiny ? 8 : models.mini ? 2 : 4,
    });
    const { id: _id, createdAt: _c, ...body } = manifest;
    const studyId = StudyManifest.parse((await admin.post('studies', body satisfies CreateStudyBody)).data).id;
    o.say(`Study ${studyId}: ${data.classes.join(', ')}; k = 3; ${o.sites} sites, Dirichlet β = ${o.beta}`);

    // Each site: enroll, prepare, approve, upload.
    const sites: (Omit<DemoSiteResult, 'modelVerified' | 'evaluatedImages' | 'accuracy' | 'balancedAccuracy' | 'alone' | 'reportMarkdown'> & { ledger: Ledger; home: string; dataDir: string; evalDir: string })[] = [];
    for (const [i, s] of data.sites.entries()) {
      o.signal?.throwIfAborted();
      const home = join(work, 'sites', s.name);
      const ledger = Ledger.open(join(home, 'ledger.sqlite'));
      ledgers.push(ledger);
      const token = EnrollmentTokenResponse.parse((await admin.post(`studies/${studyId}/enrollment-tokens`, { siteName: s.name })).data).token;
      const enrolled = await enrollSite(ledger, url, token, { expectFingerprint: server.signingKey.fingerprint });
      const study = await clientForStudy(ledger, studyId).client.getStudy(studyId);
      o.say(`[${s.name}] enrolled as ${enrolled.siteId}; preparing ${s.images} images (${Object.entries(s.counts).map(([c, n]) => `${c} ${n}`).join(', ')})`);
      const prepared = await preparePackage({
        ledger,
        dataDir: s.dir,
        study,
        siteId: enrolled.siteId,
        models: { clip: models.clip.dir, generator: models.generator.dir, encoder: models.encoderDir, captioner: models.captioner?.dir ?? null, tiny: models.tiny },
        promptMode: 'vocabulary',
        aggregation: 'cluster',
        outDir: join(home, 'packages', `run-${i + 1}`),
        device: o.device,
        seed: o.seed,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const r = prepared.report;
      const audit = await uploadPackage(ledger, prepared.packagePath, { approvers: [`${s.name} operator`], ...(o.signal ? { signal: o.signal } : {}) });
      o.say(`[${s.name}] uploaded ${r.outgoing.rows} rows (${prepared.bytes ?? 0} bytes; ${r.rows.filter((x) => x.blocked).length} blocked, ${r.suppressed.length} classes below k); audit #${audit.id}`);
      sites.push({ site: s.name, siteId: enrolled.siteId, images: r.dataset.images, classes: s.counts, packageRows: r.outgoing.rows, blockedRows: r.rows.filter((x) => x.blocked).length, suppressedClasses: r.suppressed.length, bytesUploaded: prepared.bytes ?? 0, ledger, home, dataDir: s.dir, evalDir: s.eval?.dir ?? s.dir });
    }

    // The round.
    const started = StartRoundResponse.parse((await admin.post(`studies/${studyId}/rounds`, { run: true })).data);
    const stageStart: Record<string, number> = { synthesizing: Date.now() };
    let status: RoundStatus = started.round;
    let lastLine = '';
    while (status.state !== 'published' && status.state !== 'failed') {
      o.signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 500));
      status = RoundStatus.parse((await admin.get(`rounds/${status.id}`)).data);
      if (!(status.state in stageStart)) stageStart[status.state] = Date.now();
      const p = status.progress;
      const line = p ? `round ${status.state}: ${p.stage} ${Math.round(p.done)}/${Math.round(p.total)}${p.etaSec !== null ? `, ETA ${Math.ceil(p.etaSec)}s` : ''}` : `round ${status.state}`;
      if (line !== lastLine) o.say(line);
      lastLine = line;
    }
    if (status.state === 'failed') throw new Error(`The round failed: ${status.error ?? 'unknown error'}`);
    const end = Date.now();
    const stageSeconds: Record<string, number> = {};
    const order = ['synthesizing', 'training', 'published'];
    for (let i = 0; i < order.length - 1; i++) {
      const a = stageStart[order[i]!];
      const b = stageStart[order[i + 1]!] ?? end;
      if (a !== undefined) stageSeconds[order[i]!] = (b - a) / 1000;
    }
    const modelVersion = status.modelVersion!;

    // Each site: pull, verify, evaluate offline.
    const results: DemoSiteResult[] = [];
    let valAccuracy = 0;
    for (const s of sites) {
      const pulled = await pullModel(s.ledger, studyId, { modelsRoot: join(s.home, 'downloads'), ...(o.signal ? { signal: o.signal } : {}) });
      valAccuracy = pulled.manifest.metrics.valAccuracy;
      const ev = await evaluateModel({
        ledger: s.ledger,
        modelDir: pulled.row.dir,
        trust: null,
        // A site with a held-out part evaluates on it: never on the images its package came from.
        dataDir: s.evalDir,
        clipDir: models.clip.dir,
        device: o.device,
        outDir: join(s.home, 'evaluations', `v${modelVersion}`),
        tinyModels: models.tiny,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const alone =
        s.evalDir !== s.dataDir
          ? await siteAloneMetrics({ ledger: s.ledger, clipDir: models.clip.dir, clipDigest: models.clip.sha256 ?? (await modelDigest(models.clip.dir, 'clip')), device: o.device, trainDir: s.dataDir, evalDir: s.evalDir, classes: data.classes, settings: manifest.training, ...(o.signal ? { signal: o.signal } : {}) })
          : null;
      o.say(
        `[${s.site}] model v${modelVersion} verified; accuracy ${(ev.metrics.accuracy * 100).toFixed(1)}% on ${ev.metrics.samples} held-out local images` +
          (alone ? ` (trained on this site's images alone: ${(alone.accuracy * 100).toFixed(1)}%)` : ''),
      );
      if (o.shareMetrics) {
        const { client } = clientForStudy(s.ledger, studyId);
        const { privacy } = await client.getStudy(studyId);
        await client.shareMetrics(studyId, modelVersion, aggregateMetricsForServer(ev.metrics, privacy.k));
      }
      const { ledger: _l, home: _h, dataDir: _d, evalDir: _e, ...rest } = s;
      results.push({
        ...rest,
        modelVerified: pulled.row.verified === 'verified',
        evaluatedImages: ev.metrics.samples,
        accuracy: ev.metrics.accuracy,
        balancedAccuracy: ev.metrics.balancedAccuracy,
        alone: alone ? { accuracy: alone.accuracy, balancedAccuracy: alone.balancedAccuracy } : null,
        reportMarkdown: ev.reportPaths.markdown,
      });
    }
    const syntheticDir = join(server.layout.roundsDir, status.id);
    const synthetic = (await listFiles(syntheticDir).catch(() => [])).filter((f) => f.endsWith('.png')).length;
    return {
      tinyModels: models.tiny,
      miniModels: models.mini,
      dataset: fashion ? { name: 'fashion-mnist', split: 'test', source: fashion.dataset.source } : { name: 'shapes' },
      serverUrl: url,
      studyId,
      serverKeyFingerprint: server.signingKey.fingerprint,
      workDir: work,
      sites: results,
      round: { id: status.id, modelVersion, syntheticImages: synthetic, stageSeconds, valAccuracy },
      generator: { ...pickSampling(manifest.generator), recipeReason: models.recipe.reason },
      bytes: { uploadedTotal: results.reduce((a, s) => a + s.bytesUploaded, 0), fedAvgResNet18PerRound: RESNET18_PARAMS * 4 * 2 * o.sites, fedAvgResNet18Params: RESNET18_PARAMS },
      serverFiles: await listFiles(server.layout.root),
    };
  } finally {
    for (const l of ledgers) l.close();
    await server.close();
  }
}
