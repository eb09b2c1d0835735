import fs from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../../core/image/abortable';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import type { GeneratorSettings } from '../../shared/study';
import { usesGuidance } from './classifier-free-guidance';
import { imageSeed } from './image-seed';
import type { SynthesisRow } from './package-rows';
import type { SchedulerName } from './schedulers/scheduler';
import type { StableDiffusionPipeline } from './sd-pipeline';
import {
  encodeSyntheticPng,
  type ExpectedImage,
  expectedImage,
  imageFiles,
  isImageFinished,
  writeImageFiles,
} from './image-files';

/** The generator settings synthesis uses (the study's, or any superset of its schedulers). */
export type SynthesisSettings = Pick<
  GeneratorSettings,
  'steps' | 'guidance' | 'height' | 'width' | 'imagesPerRow' | 'negativePrompt'
> & {
  scheduler: SchedulerName;
};

export type SynthesizeRowsOptions = {
  pipeline: StableDiffusionPipeline;
  studyId: string;
  packageSha256: string;
  rows: readonly SynthesisRow[];
  settings: SynthesisSettings;
  /** Mixed into every image seed: a new base seed gives a new synthetic set for the same package. */
  baseSeed: number;
  /** Images go to `<outDir>/<packageSha256>/<row>-<index>.png` + `.json`. */
  outDir: string;
  /** The [77, D] negative embedding; when absent it is encoded from settings.negativePrompt (only if anything is left to generate). */
  negative?: Float32Array;
  /** Images per pipeline call; files are written after each, so a kill loses at most one batch. Default: the pipeline's. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

export type SynthesizedImage = {
  row: number;
  index: number;
  label: number;
  seed: number;
  png: string;
  sidecar: string;
};

export type SynthesizeRowsResult = {
  /** `<outDir>/<packageSha256>`. */
  dir: string;
  /** Every image of the package, row-major, whether made now or before. */
  images: SynthesizedImage[];
  generated: number;
  reused: number;
};

type Job = SynthesizedImage & { conditioning: Float32Array; className?: string };

/** Stage name in progress events. */
export const SYNTHESIS_STAGE = 'synthesizing';

/** Leftover temp files of a killed run (writeFileDurable's `.<name>.<hex>.part`). */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith('.') && name.endsWith('.part'))
      await fs.rm(path.join(dir, name), { force: true });
  }
}

/**
 * Generates `imagesPerRow` images for every package row and writes them as PNG + JSON sidecar.
 * Resumable: an image whose sidecar (written last) matches the settings is kept, so a rerun after a
 * kill generates only what is missing, with the same seeds, hence the same bytes.
 */
export async function synthesizeRows(o: SynthesizeRowsOptions): Promise<SynthesizeRowsResult> {
  const { pipeline, settings } = o;
  if (!/^[0-9a-f]{64}$/.test(o.packageSha256))
    throw new Error(`packageSha256 must be 64 lowercase hex digits (got "${o.packageSha256}").`);
  const dir = path.join(o.outDir, o.packageSha256);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleTemps(dir);
  const modelDigest = await pipeline.modelDigest();

  const jobs: Job[] = [];
  for (const r of o.rows) {
    for (let index = 0; index < settings.imagesPerRow; index++) {
      const files = imageFiles(o.outDir, o.packageSha256, r.row, index);
      jobs.push({
        row: r.row,
        index,
        label: r.label,
        ...(r.className !== undefined ? { className: r.className } : {}),
        seed: imageSeed(o.baseSeed, o.packageSha256, r.row, index),
        png: files.png,
        sidecar: files.sidecar,
        conditioning: r.conditioning,
      });
    }
  }
  const expected = (j: Job): ExpectedImage =>
    expectedImage({ studyId: o.studyId, packageSha256: o.packageSha256, image: j, settings, modelDigest });

  const pending: Job[] = [];
  for (const j of jobs) if (!(await isImageFinished(j, expected(j)))) pending.push(j);
  const reused = jobs.length - pending.length;
  // The meter times only the work left; events still count the reused images as done.
  const meter = createProgressMeter(SYNTHESIS_STAGE, pending.length, (p) =>
    o.onProgress?.({ ...p, done: p.done + reused, total: jobs.length }),
  );
  o.onProgress?.({
    stage: SYNTHESIS_STAGE,
    done: reused,
    total: jobs.length,
    ratePerSec: 0,
    etaSec: null,
  });

  if (pending.length > 0) {
    throwIfAborted(o.signal);
    // Without guidance the negative half never runs: skip loading the text encoder for it.
    const negative =
      o.negative ??
      (usesGuidance(settings.guidance)
        ? await pipeline.encodeNegative(settings.negativePrompt)
        : new Float32Array(pending[0]!.conditioning.length));
    const batchSize = o.batchSize ?? pipeline.batchSize;
    for (let start = 0; start < pending.length; start += batchSize) {
      throwIfAborted(o.signal);
      const batch = pending.slice(start, start + batchSize);
      const conditioning = new Float32Array(batch.reduce((s, j) => s + j.conditioning.length, 0));
      let at = 0;
      for (const j of batch) {
        conditioning.set(j.conditioning, at);
        at += j.conditioning.length;
      }
      const { images } = await pipeline.generate({
        conditioning,
        negative,
        guidance: settings.guidance,
        scheduler: settings.scheduler,
        steps: settings.steps,
        height: settings.height,
        width: settings.width,
        seeds: batch.map((j) => j.seed),
        batchSize: batch.length,
        signal: o.signal,
      });
      for (const [k, j] of batch.entries()) {
        await writeImageFiles(j, await encodeSyntheticPng(images[k]!, settings.width, settings.height), {
          ...expected(j),
          ...(j.className !== undefined ? { className: j.className } : {}),
          device: pipeline.device,
        });
      }
      meter.advance(batch.length);
    }
  }
  const images = jobs.map(({ row, index, label, seed, png, sidecar }) => ({
    row,
    index,
    label,
    seed,
    png,
    sidecar,
  }));
  return { dir, images, generated: pending.length, reused };
}
