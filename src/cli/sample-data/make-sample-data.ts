import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { SAMPLE_CLASSES } from './sample-classes';
import { dirichletSplit } from './dirichlet-split';
import { seededUniform } from './seeded-random';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';

export type SampleDataOptions = {
  classes: number;
  perClass: number;
  seed: number;
  size?: number;
  /** Split across this many site folders (site-1 … site-N) with Dirichlet(β) label skew. */
  sites?: number;
  beta?: number;
  minPerSite?: number;
  /** Replace `out` if it already holds files (default: refuse). */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

export type SampleDataResult = {
  dir: string;
  classes: string[];
  images: number;
  /** Per site (or one entry for an unsplit set): folder and images per class; `eval` is the site's held-out part, when it has one. */
  sites: { name: string; dir: string; counts: Record<string, number>; images: number; eval?: { dir: string; counts: Record<string, number>; images: number } }[];
};

/** Refuses a folder that holds anything unless `force`: a typo in --out must not delete someone's data. */
export async function refuseNonEmpty(out: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new Error(`--out ${out} is a file, not a folder; choose a folder path.`);
    throw err;
  }
  if (entries.length > 0 && !force)
    throw Object.assign(new Error(`${out} is not empty (${entries.length} entries, e.g. ${entries.slice(0, 3).join(', ')}); nothing was written`), {
      hint: 'Choose an empty or new folder, or pass --force to replace it.',
    });
}

/**
 * Writes a data set into a temp sibling of `out` and renames it into place, so an interrupted run
 * never leaves half a data set and `out` is replaced only when everything is written.
 */
export async function intoFreshFolder<T>(out: string, force: boolean, write: (tmp: string) => Promise<T>): Promise<T> {
  await refuseNonEmpty(out, force);
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(tmp, { recursive: true });
    const result = await write(tmp);
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

const safeName = (s: string) => s.replace(/[^a-z0-9]+/gi, '-');

/** Draws a labelled image set in ImageFolder layout: `<out>/<class>/<n>.png` (or `<out>/site-i/<class>/…`). */
export async function makeSampleData(out: string, o: SampleDataOptions): Promise<SampleDataResult> {
  if (o.classes < 2 || o.classes > SAMPLE_CLASSES.length)
    throw new Error(`--classes must be between 2 and ${SAMPLE_CLASSES.length}`);
  if (o.perClass < 1) throw new Error('--per-class must be ≥ 1');
  const size = o.size ?? 128;
  const classes = SAMPLE_CLASSES.slice(0, o.classes);
  const labels = classes.flatMap((_, c) => Array.from({ length: o.perClass }, () => c));
  const sites = o.sites ?? 0;
  const split = sites > 0 ? dirichletSplit(labels, sites, o.beta ?? 0.5, o.seed, o.minPerSite ?? 10) : [labels.map((_, i) => i)];
  const siteOf = new Int32Array(labels.length);
  split.forEach((idx, s) => idx.forEach((i) => (siteOf[i] = s)));

  const meter = createProgressMeter('sample-data', labels.length, o.onProgress);
  const rand = seededUniform(o.seed);
  const perClassSeen = new Array<number>(classes.length).fill(0);
  // No metadata file inside the dataset: a scan would report it as a stray, unlabelled file.
  await intoFreshFolder(out, o.force ?? false, async (tmp) => {
    const siteDirs = split.map((_, s) => (sites > 0 ? join(tmp, `site-${s + 1}`) : tmp));
    for (let i = 0; i < labels.length; i++) {
      o.signal?.throwIfAborted();
      const c = labels[i]!;
      const cls = classes[c]!;
      const bgHue = rand() * 360;
      const params = {
        cx: size * (0.35 + 0.3 * rand()),
        cy: size * (0.35 + 0.3 * rand()),
        r: size * (0.18 + 0.14 * rand()),
        rot: rand() * 360,
        hueShift: (rand() - 0.5) * 16,
        size,
      };
      const speckles = Array.from({ length: 12 }, () =>
        `<circle cx="${(rand() * size).toFixed(1)}" cy="${(rand() * size).toFixed(1)}" r="${(1 + rand() * 2).toFixed(1)}" fill="rgba(0,0,0,0.12)"/>`,
      ).join('');
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="${size}" height="${size}" fill="hsl(${bgHue.toFixed(0)},20%,${(70 + rand() * 20).toFixed(0)}%)"/>${speckles}${cls.draw(params)}</svg>`;
      const dir = join(siteDirs[siteOf[i]!]!, cls.name);
      await mkdir(dir, { recursive: true });
      const n = perClassSeen[c]!++;
      await writeFile(join(dir, `${safeName(cls.name)}-${String(n).padStart(4, '0')}.png`), await sharp(Buffer.from(svg)).png().toBuffer());
      meter.advance(1);
    }
  });
  const result: SampleDataResult = {
    dir: out,
    classes: classes.map((c) => c.name),
    images: labels.length,
    sites: split.map((idx, s) => {
      const counts: Record<string, number> = {};
      for (const cl of classes) counts[cl.name] = 0;
      for (const i of idx) counts[classes[labels[i]!]!.name]!++;
      return { name: sites > 0 ? `site-${s + 1}` : 'all', dir: sites > 0 ? join(out, `site-${s + 1}`) : out, counts, images: idx.length };
    }),
  };
  return result;
}
