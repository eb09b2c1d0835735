import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodePackage } from '../../shared/embedding-package';
import type { StudyManifest } from '../../shared/study';
import { decodeImage } from '../../core/image/decode-image';
import { loadClip } from '../../core/inference/clip-model';
import { modelDigest } from '../../core/models/model-digest';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { loadTf } from '../../core/tfjs/tfjs-backend';
import { saveModelToDir } from '../../core/tfjs/file-io';
import { StableDiffusionPipeline } from '../synthesis/sd-pipeline';
import { synthesizeRows, type SynthesizedImage } from '../synthesis/synthesize-rows';
import { packageRows } from '../synthesis/package-rows';
import { trainProbe } from '../training/probe-trainer';
import { trainCnn } from '../training/cnn-trainer';
import { SYNTHETIC_DIR } from '../store/data-layout';
import type { RoundStages, StageContext, TrainResult } from './round-stages';

export type DiffusionStagesOptions = {
  /** Server-side model folders: the generator (UNet, VAE, its own text encoder) and CLIP. */
  generatorDir: string;
  clipDir: string;
  /** The study's conditioning encoder when apart from the generator (a models folder's encoder/), for the negative prompt. */
  encoderDir?: string;
  device: DeviceChoice;
  /** Images per UNet call. */
  batchSize?: number;
  /** Mixed into every image seed; a new value gives a new synthetic set. */
  baseSeed?: number;
};

const MODEL = 'model';

async function syntheticImages(ctx: StageContext, pipeline: StableDiffusionPipeline | null, o: DiffusionStagesOptions, onImage?: () => void): Promise<SynthesizedImage[]> {
  const all: SynthesizedImage[] = [];
  const g = ctx.study.generator;
  for (const p of ctx.packages) {
    const pkg = decodePackage(new Uint8Array(await readFile(p.path)));
    const rows = packageRows(pkg, ctx.study.classes);
    if (!pipeline) throw new Error('internal: pipeline required');
    const r = await synthesizeRows({
      pipeline,
      studyId: ctx.study.id,
      packageSha256: p.sha256,
      rows,
      settings: { steps: g.steps, guidance: g.guidance, height: g.height, width: g.width, imagesPerRow: g.imagesPerRow, negativePrompt: g.negativePrompt, scheduler: g.scheduler },
      baseSeed: o.baseSeed ?? 0,
      outDir: join(ctx.workDir, SYNTHETIC_DIR),
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      signal: ctx.signal,
      onProgress: () => onImage?.(),
    });
    all.push(...r.images);
  }
  return all;
}

/**
 * The real round: Stable Diffusion on ONNX Runtime conditioned on every package row, then a
 * classifier trained on the synthetic images. Both stages are restartable: synthesis skips
 * images whose sidecar exists (a killed server redoes nothing it finished), training is
 * deterministic from the study's seed and simply runs again.
 */
export function createDiffusionStages(o: DiffusionStagesOptions): RoundStages {
  return {
    async synthesize(ctx) {
      const g = ctx.study.generator;
      const total = (await Promise.all(ctx.packages.map(async (p) => p.rows))).reduce((a, b) => a + b, 0) * g.imagesPerRow;
      const pipeline = await StableDiffusionPipeline.load(o.generatorDir, { device: o.device, ...(o.encoderDir ? { encoderDir: o.encoderDir } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) });
      try {
        let done = 0;
        ctx.progress(0, total);
        // Counted per image reported by synthesizeRows (reused images report too), so progress is exact after a resume.
        await syntheticImages(ctx, pipeline, o, () => ctx.progress(++done, total));
        ctx.log.info({ images: total }, 'synthesis finished');
      } finally {
        await pipeline.dispose();
      }
    },

    async train(ctx): Promise<TrainResult> {
      const study: StudyManifest = ctx.study;
      // Listing the finished images needs no pipeline work: every one exists after synthesis.
      const pipeline = await StableDiffusionPipeline.load(o.generatorDir, { device: o.device });
      let images: SynthesizedImage[];
      try {
        images = await syntheticImages(ctx, pipeline, o);
      } finally {
        await pipeline.dispose();
      }
      const labels = images.map((i) => i.label);
      const tf = await loadTf((line) => ctx.log.info(line));
      const settings = study.training;
      const modelDir = join(ctx.workDir, MODEL);
      const onProgress = (p: { done: number; total: number }) => ctx.progress(p.done, p.total);
      if (settings.kind === 'cnn') {
        const rgb = [];
        for (const img of images) {
          const d = await decodeImage(img.png, { signal: ctx.signal });
          rgb.push({ data: d.data, width: d.width, height: d.height });
        }
        const r = await trainCnn({ images: rgb, labels, classes: study.classes, settings, signal: ctx.signal, onProgress, log: (l) => ctx.log.info(l), tf });
        await saveModelToDir(r.model, modelDir);
        return {
          modelDir,
          model: { kind: 'cnn', preprocessing: r.preprocessing, backbone: null, training: { ...settings, backend: r.backend, samples: images.length }, metrics: r.metrics },
        };
      }
      // probe: an MLP on CLIP image features, so the backbone must be exactly the study's CLIP.
      const digest = await modelDigest(o.clipDir, 'clip');
      if (study.clip.sha256 && digest !== study.clip.sha256)
        throw new Error(`the server's CLIP (${digest.slice(0, 12)}…) is not the study's ${study.clip.id} (${study.clip.sha256.slice(0, 12)}…); sites could not use the probe`);
      const clip = await loadClip(o.clipDir, { device: o.device });
      const features: Float32Array[] = [];
      try {
        for (let s = 0; s < images.length; s += 32) {
          ctx.signal.throwIfAborted();
          const batch = [];
          for (const img of images.slice(s, s + 32)) {
            const d = await decodeImage(img.png, { resizeShortSide: clip.inputSize, signal: ctx.signal });
            batch.push({ data: d.data, width: d.width, height: d.height, channels: 3 as const });
          }
          features.push(...(await clip.embedImages(batch)));
          ctx.progress(features.length, images.length);
        }
      } finally {
        await clip.dispose();
      }
      const r = await trainProbe({ features, labels, classes: study.classes, settings, signal: ctx.signal, onProgress, log: (l) => ctx.log.info(l), tf });
      await saveModelToDir(r.model, modelDir);
      ctx.log.info({ valAccuracy: r.metrics.valAccuracy, epochs: r.metrics.epochs, backend: r.backend }, 'training finished');
      return {
        modelDir,
        model: {
          kind: 'probe',
          preprocessing: r.preprocessing,
          backbone: { id: study.clip.id, revision: study.clip.revision, ...(study.clip.sha256 ? { sha256: study.clip.sha256 } : { sha256: digest }) },
          training: { ...settings, backend: r.backend, samples: images.length },
          metrics: r.metrics,
        },
      };
    },
  };
}
