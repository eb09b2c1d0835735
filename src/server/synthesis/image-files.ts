import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { writeFileDurable } from '../../core/fs/durable-file';
import { SynthesizedImageRecord } from './synthesized-image-record';

/**
 * The files of one synthetic image — `<outDir>/<packageSha256>/<row>-<index>.png` and its JSON
 * sidecar — written the same way whether the image was made in this process (synthesizeRows) or
 * by a queue worker on another machine (api/worker-routes.ts), so training never knows which.
 */
export type ImageFiles = { png: string; sidecar: string };

export function imageFiles(outDir: string, packageSha256: string, row: number, index: number): ImageFiles {
  const base = path.join(outDir, packageSha256, `${row}-${index}`);
  return { png: `${base}.png`, sidecar: `${base}.json` };
}

/** The sidecar fields that identify an image and how it was made (everything but the output). */
export type ExpectedImage = Omit<SynthesizedImageRecord, 'png' | 'device' | 'className'>;

/** The sidecar fields of image `index` of package row `row` made with these settings and generator. */
export function expectedImage(o: {
  studyId: string;
  packageSha256: string;
  image: { row: number; label: number; index: number; seed: number };
  settings: Pick<ExpectedImage, 'scheduler' | 'steps' | 'guidance' | 'height' | 'width' | 'negativePrompt'>;
  modelDigest: string;
}): ExpectedImage {
  const { settings: s, image: i } = o;
  return {
    schemaVersion: 1,
    study: o.studyId,
    packageSha256: o.packageSha256,
    row: i.row,
    label: i.label,
    index: i.index,
    seed: i.seed,
    scheduler: s.scheduler,
    steps: s.steps,
    guidance: s.guidance,
    height: s.height,
    width: s.width,
    negativePrompt: s.negativePrompt,
    modelDigest: o.modelDigest,
  };
}

async function fileSize(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return null;
  }
}

/** True when the sidecar exists, parses, was made with exactly these settings, and its PNG is there with the recorded size. */
export async function isImageFinished(files: ImageFiles, expect: ExpectedImage): Promise<boolean> {
  let record: SynthesizedImageRecord;
  try {
    record = SynthesizedImageRecord.parse(JSON.parse(await fs.readFile(files.sidecar, 'utf8')));
  } catch {
    return false;
  }
  const same = (Object.keys(expect) as (keyof ExpectedImage)[]).every((k) => record[k] === expect[k]);
  return same && (await fileSize(files.png)) === record.png.bytes;
}

/** RGB bytes (HWC, uint8) of a generated image as the PNG that is stored. */
export function encodeSyntheticPng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Write the PNG, then the sidecar (last, so that a sidecar on disk always means a complete PNG). */
export async function writeImageFiles(
  files: ImageFiles,
  png: Uint8Array,
  record: ExpectedImage & { className?: string; device: string },
): Promise<void> {
  await writeFileDurable(files.png, png, 0o600);
  const full: SynthesizedImageRecord = {
    ...record,
    png: {
      file: path.basename(files.png),
      bytes: png.length,
      sha256: createHash('sha256').update(png).digest('hex'),
    },
  };
  await writeFileDurable(files.sidecar, JSON.stringify(full, null, 2) + '\n', 0o600);
}
