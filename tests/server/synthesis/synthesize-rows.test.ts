import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage, encodePackage } from '../../../src/shared/embedding-package';
import type { ProgressEvent } from '../../../src/shared/progress';
import { imageSeed } from '../../../src/server/synthesis/image-seed';
import { packageRows, type SynthesisRow } from '../../../src/server/synthesis/package-rows';
import { StableDiffusionPipeline } from '../../../src/server/synthesis/sd-pipeline';
import {
  type SynthesisSettings,
  synthesizeRows,
  type SynthesizeRowsOptions,
} from '../../../src/server/synthesis/synthesize-rows';
import { SynthesizedImageRecord } from '../../../src/server/synthesis/synthesized-image-record';
import { getTinyModels } from '../../helpers/tiny-models';

const CLASSES = ['circle', 'square'];
const SETTINGS: SynthesisSettings = {
  scheduler: 'pndm',
  steps: 3,
  guidance: 2,
  height: 64,
  width: 64,
  imagesPerRow: 2,
  negativePrompt: 'low quality, low resolution',
};
// PNDM's PLMS runs one UNet call more than the steps asked.
const UNET_CALLS_PER_IMAGE = SETTINGS.steps + 1;

type FileState = { bytes: Buffer; mtimeMs: number; ino: number };

async function snapshot(dir: string): Promise<Map<string, FileState>> {
  const out = new Map<string, FileState>();
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const st = await fs.stat(file);
    out.set(name, { bytes: await fs.readFile(file), mtimeMs: st.mtimeMs, ino: st.ino });
  }
  return out;
}

describe('synthesizeRows', () => {
  let pipeline: StableDiffusionPipeline;
  let rows: SynthesisRow[];
  let packageSha256: string;
  let tmp: string;
  let options: (outDir: string) => SynthesizeRowsOptions;
  /** A complete uninterrupted run: what every resumed run must end up identical to. */
  let fresh: Map<string, FileState>;

  beforeAll(async () => {
    const models = await getTinyModels();
    pipeline = await StableDiffusionPipeline.load(models.dirs.generator, { device: 'cpu' });
    // A real package: three prompts through the generator's text encoder, stored as F16 and decoded back.
    const prompts = ['a red circle', 'a blue square', 'a small red circle'];
    const conditioning = new Float32Array(prompts.length * 77 * 32);
    for (const [i, p] of prompts.entries())
      conditioning.set(await pipeline.encodeNegative(p), i * 77 * 32);
    const bytes = encodePackage({
      metadata: {
        format: 'fgl-embedding-package',
        format_version: '1',
        study_id: 'tiny-study',
        site_id: 'site-a',
        encoder_id: 'fgl-tiny/generator',
        encoder_sha256: 'a'.repeat(64),
        prompt_mode: 'class',
        aggregation: 'class',
        k: 5,
        dp_epsilon: null,
        dp_delta: null,
        dp_clip: null,
        dp_sigma: null,
        app_version: '0.1.0',
        created_at: '2025-01-01T00:00:00.000Z',
      },
      conditioning,
      n: prompts.length,
      dim: 32,
      dtype: 'F16',
      labels: Int32Array.of(0, 1, 0),
      counts: Int32Array.of(5, 5, 5),
    });
    packageSha256 = createHash('sha256').update(bytes).digest('hex');
    rows = packageRows(decodePackage(bytes), CLASSES);
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-synth-'));
    options = (outDir) => ({
      pipeline,
      studyId: 'tiny-study',
      packageSha256,
      rows,
      settings: SETTINGS,
      baseSeed: 11,
      outDir,
      batchSize: 2,
    });
    fresh = await snapshot((await synthesizeRows(options(path.join(tmp, 'fresh')))).dir);
  });

  afterAll(async () => {
    await pipeline?.dispose();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes imagesPerRow PNGs per row with sidecars that describe them, and reports progress', async () => {
    const events: ProgressEvent[] = [];
    const r = await synthesizeRows({
      ...options(path.join(tmp, 'full')),
      onProgress: (p) => events.push(p),
    });
    expect(r.dir).toBe(path.join(tmp, 'full', packageSha256));
    expect([r.generated, r.reused]).toEqual([6, 0]);
    expect(r.images.map((i) => `${i.row}-${i.index}`)).toEqual([
      '0-0',
      '0-1',
      '1-0',
      '1-1',
      '2-0',
      '2-1',
    ]);
    expect((await fs.readdir(r.dir)).sort()).toEqual(
      r.images.flatMap((i) => [path.basename(i.png), path.basename(i.sidecar)]).sort(),
    );
    expect(new Set(r.images.map((i) => i.seed)).size).toBe(6);

    for (const img of r.images) {
      // Synthetic images stay with the server's account (issue #14 finding 8).
      expect((await fs.stat(img.png)).mode & 0o777).toBe(0o600);
      expect((await fs.stat(img.sidecar)).mode & 0o777).toBe(0o600);
      const meta = await sharp(img.png).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 64, 64, 3]);
      const record = SynthesizedImageRecord.parse(
        JSON.parse(await fs.readFile(img.sidecar, 'utf8')),
      );
      const png = await fs.readFile(img.png);
      expect(record).toMatchObject({
        study: 'tiny-study',
        packageSha256,
        row: img.row,
        index: img.index,
        label: [0, 1, 0][img.row],
        className: CLASSES[[0, 1, 0][img.row]!],
        seed: imageSeed(11, packageSha256, img.row, img.index),
        scheduler: 'pndm',
        steps: 3,
        guidance: 2,
        modelDigest: await pipeline.modelDigest(),
        device: 'cpu',
        png: {
          file: path.basename(img.png),
          bytes: png.length,
          sha256: createHash('sha256').update(png).digest('hex'),
        },
      });
    }
    // Two images of one row differ (own seeds); two rows with different prompts differ.
    const bytesOf = async (i: number) => fs.readFile(r.images[i]!.png);
    expect((await bytesOf(0)).equals(await bytesOf(1))).toBe(false);
    expect((await bytesOf(0)).equals(await bytesOf(2))).toBe(false);

    expect(events[0]).toMatchObject({ stage: 'synthesizing', done: 0, total: 6 });
    expect(events.at(-1)).toMatchObject({ stage: 'synthesizing', done: 6, total: 6, etaSec: 0 });
    expect(events.map((e) => e.done)).toEqual([0, 2, 4, 6]);
  });

  it('resumes after a kill: only missing images are generated, and the result is byte-identical to a fresh run', async () => {
    const out = path.join(tmp, 'resumed');
    const first = await synthesizeRows(options(out));
    // A kill can leave: a PNG without its sidecar, a lost PNG, nothing at all, and a temp file.
    await fs.rm(path.join(first.dir, '0-1.json'));
    await fs.rm(path.join(first.dir, '1-0.png'));
    await fs.rm(path.join(first.dir, '2-1.png'));
    await fs.rm(path.join(first.dir, '2-1.json'));
    await fs.writeFile(path.join(first.dir, '.1-1.png.0123456789ab.part'), 'torn');
    const before = await snapshot(first.dir);

    const unetBefore = pipeline.stats.unetRuns;
    const imagesBefore = pipeline.stats.images;
    const events: ProgressEvent[] = [];
    const second = await synthesizeRows({ ...options(out), onProgress: (p) => events.push(p) });
    expect([second.generated, second.reused]).toEqual([3, 3]);
    expect(pipeline.stats.images - imagesBefore).toBe(3);
    // Batches of 2 then 1 image: each UNet call serves the whole batch.
    expect(pipeline.stats.unetRuns - unetBefore).toBe(2 * UNET_CALLS_PER_IMAGE);
    expect(events[0]).toMatchObject({ done: 3, total: 6 });
    expect(events.at(-1)).toMatchObject({ done: 6, total: 6 });

    const after = await snapshot(second.dir);
    for (const name of ['0-0.png', '0-0.json', '1-1.png', '1-1.json', '2-0.png', '2-0.json']) {
      expect(after.get(name)!.mtimeMs, name).toBe(before.get(name)!.mtimeMs);
      expect(after.get(name)!.ino, name).toBe(before.get(name)!.ino);
    }
    expect([...after.keys()]).toEqual([...fresh.keys()]);
    for (const [name, f] of fresh) expect(after.get(name)!.bytes.equals(f.bytes), name).toBe(true);

    // Nothing missing: a third run generates nothing and runs no UNet.
    const unetThen = pipeline.stats.unetRuns;
    const third = await synthesizeRows(options(out));
    expect([third.generated, third.reused]).toEqual([0, 6]);
    expect(pipeline.stats.unetRuns).toBe(unetThen);
  });

  it('redoes images whose sidecar was made with other settings', async () => {
    const out = path.join(tmp, 'changed');
    await synthesizeRows(options(out));
    const again = await synthesizeRows({ ...options(out), settings: { ...SETTINGS, guidance: 3 } });
    expect([again.generated, again.reused]).toEqual([6, 0]);
    const record = SynthesizedImageRecord.parse(
      JSON.parse(await fs.readFile(again.images[0]!.sidecar, 'utf8')),
    );
    expect(record.guidance).toBe(3);
  });

  it('runs SD-Turbo style (1 step, no guidance): one single-batch UNet call per image', async () => {
    const unetBefore = pipeline.stats.unetRuns;
    const r = await synthesizeRows({
      ...options(path.join(tmp, 'turbo')),
      settings: { ...SETTINGS, scheduler: 'turbo', steps: 1, guidance: 0 },
      batchSize: 1,
    });
    expect([r.generated, r.reused]).toEqual([6, 0]);
    expect(pipeline.stats.unetRuns - unetBefore).toBe(6);
    const record = SynthesizedImageRecord.parse(
      JSON.parse(await fs.readFile(r.images[5]!.sidecar, 'utf8')),
    );
    expect([record.scheduler, record.steps, record.guidance]).toEqual(['turbo', 1, 0]);
  });

  it('stops promptly when aborted, leaves only complete images, and a rerun completes the set', async () => {
    const out = path.join(tmp, 'aborted');
    const controller = new AbortController();
    const unetBefore = pipeline.stats.unetRuns;
    const run = synthesizeRows({
      ...options(out),
      batchSize: 1,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.done === 1) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    // The first image finished; the abort landed before the second image's first UNet call.
    expect(pipeline.stats.unetRuns - unetBefore).toBe(UNET_CALLS_PER_IMAGE);
    const dir = path.join(out, packageSha256);
    expect((await fs.readdir(dir)).sort()).toEqual(['0-0.json', '0-0.png']);

    const rest = await synthesizeRows(options(out));
    expect([rest.generated, rest.reused]).toEqual([5, 1]);
    const done = await snapshot(dir);
    for (const [name, f] of fresh) expect(done.get(name)!.bytes.equals(f.bytes), name).toBe(true);
  });
});

describe('imageSeed', () => {
  it('depends on every input and on nothing else', () => {
    const sha = 'b'.repeat(64);
    const s = imageSeed(1, sha, 2, 3);
    expect(imageSeed(1, sha, 2, 3)).toBe(s);
    expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
    const variants = [
      imageSeed(2, sha, 2, 3),
      imageSeed(1, 'c'.repeat(64), 2, 3),
      imageSeed(1, sha, 3, 3),
      imageSeed(1, sha, 2, 4),
      imageSeed(1, sha, 23, 0),
    ];
    expect(new Set([s, ...variants]).size).toBe(6);
  });
});
