/**
 * One `preparePackage` run in a fresh process, for the site benchmark's memory comparison.
 * Run: npx tsx bench/site/prepare-rss-child.ts --data DIR --models DIR [--batch-size 16] [--aggregation cluster|class]
 *   [--prompt-mode class|instance]  (instance: one caption per image from the models folder's captioner)
 * Prints one JSON object: peak RSS (sampled, and the kernel's high-water mark VmHWM on Linux),
 * RSS when each stage began, and wall time per stage. Uses its own temporary ledger, removed after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildStudyManifest } from '../../src/cli/study/build-study';
import { describeModelsFolder } from '../../src/cli/study/models-folder';
import { Ledger } from '../../src/site/ledger/ledger';
import { preparePackage } from '../../src/site/prepare/prepare-package';
import { listImages } from './bench-data';
import { round } from './alternating-timer';
import { vmHwmMb } from '../peak-rss';

const MB = 1024 * 1024;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const data = arg('data');
  const modelsDir = arg('models');
  if (!data || !modelsDir)
    throw new Error('usage: prepare-rss-child.ts --data DIR --models DIR [--batch-size N]');
  const batchSize = Number(arg('batch-size') ?? 16);
  const aggregation = arg('aggregation') ?? 'cluster';
  if (aggregation !== 'cluster' && aggregation !== 'class')
    throw new Error(`--aggregation must be cluster or class, got ${aggregation}`);
  const promptMode = arg('prompt-mode') ?? 'class';
  if (promptMode !== 'class' && promptMode !== 'instance')
    throw new Error(`--prompt-mode must be class or instance, got ${promptMode}`);
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  let peakArrayBuffers = process.memoryUsage().arrayBuffers;
  // Sampling misses peaks inside long synchronous stretches; VmHWM below does not.
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
  }, 20);

  const models = await describeModelsFolder(path.resolve(modelsDir));
  const classes = (await listImages(data)).map((f) => path.basename(path.dirname(f)));
  const study = buildStudyManifest({
    name: 'site bench',
    classes: [...new Set(classes)].sort(),
    models,
    id: 'site-bench',
  });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'fgl-site-bench-'));
  const ledger = Ledger.open(path.join(tmp, 'ledger.sqlite'));
  const t0 = performance.now();
  const firstAt = new Map<string, { t: number; rssMb: number }>();
  const lastAt = new Map<string, number>();
  try {
    const result = await preparePackage({
      ledger,
      dataDir: data,
      study,
      siteId: 'bench-site',
      models: {
        clip: models.clip.dir,
        generator: models.generator.dir,
        captioner: models.captioner?.dir ?? null,
        tiny: models.tiny,
      },
      promptMode,
      aggregation,
      outDir: path.join(tmp, 'out'),
      device: 'cpu',
      batchSize,
      onProgress: (p) => {
        const t = performance.now() - t0;
        if (!firstAt.has(p.stage))
          firstAt.set(p.stage, { t, rssMb: process.memoryUsage().rss / MB });
        lastAt.set(p.stage, t);
      },
    });
    const total = performance.now() - t0;
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    // Stage boundaries from progress events: a stage ends at its last event; model loading ends at the first scan event.
    const scanStart = firstAt.get('scan')?.t ?? 0;
    const scanEnd = lastAt.get('scan') ?? scanStart;
    const embedEnd = lastAt.get('embed-images') ?? scanEnd;
    const encodeEnd = lastAt.get('encode-prompts') ?? embedEnd;
    const sec = (ms: number) => round(ms / 1000, 3);
    process.stdout.write(
      `${JSON.stringify({
        images: result.report.dataset.images,
        rows: result.report.outgoing.rows,
        blockedRows: result.report.rows.filter((r) => r.blocked).length,
        batchSize,
        aggregation,
        promptMode,
        startRssMb: round(startRss / MB, 1),
        peakRssSampledMb: round(peakRss / MB, 1),
        vmHwmMb: vmHwmMb() === null ? null : round(vmHwmMb()!, 1),
        // Typed arrays live outside the JS heap; a peak here points at tensors/embeddings, not objects.
        peakArrayBuffersSampledMb: round(peakArrayBuffers / MB, 1),
        rssAtStageStartMb: Object.fromEntries([...firstAt].map(([s, v]) => [s, round(v.rssMb, 1)])),
        seconds: {
          total: sec(total),
          loadModels: sec(scanStart),
          scan: sec(scanEnd - scanStart),
          embedImages: sec(embedEnd - scanEnd),
          promptsAndEncode: sec(encodeEnd - embedEnd),
          privacyPackageReport: sec(total - encodeEnd),
        },
      })}\n`,
    );
  } finally {
    clearInterval(sampler);
    ledger.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
