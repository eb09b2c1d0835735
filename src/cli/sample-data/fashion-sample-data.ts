import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { dirichletSplit } from './dirichlet-split';
import { readFashionMnistTest, type FashionMnistSplit } from './fashion-mnist';
import { intoFreshFolder, type SampleDataResult } from './make-sample-data';
import { seededUniform } from './seeded-random';

export type FashionSampleOptions = {
  /** Split across this many sites (site-1 … site-N, each with train/ and eval/); 0 = one ImageFolder. */
  sites: number;
  beta: number;
  seed: number;
  /** Images drawn from the test split (all sites together); default all of it. */
  images?: number;
  /** Share of each site's images (per class) kept for its local evaluation. */
  evalFraction?: number;
  minPerSite?: number;
  datasetDir?: string;
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

export type FashionSampleResult = SampleDataResult & {
  dataset: {
    name: 'fashion-mnist';
    split: 'test';
    dir: string;
    source: FashionMnistSplit['source'];
    available: number;
  };
};

function shuffle(items: number[], rand: () => number): number[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Site folders of real Fashion-MNIST images from the TEST split (never seen by the mini models),
 * with Dirichlet(β) label skew across sites. Each site gets `train/<class>/*.png` (what it
 * prepares a package from) and `eval/<class>/*.png` (held out, for its local evaluation).
 */
export async function makeFashionSampleData(
  out: string,
  o: FashionSampleOptions,
): Promise<FashionSampleResult> {
  const split = await readFashionMnistTest(o.datasetDir);
  const available = split.labels.length;
  const wanted = o.images ?? available;
  if (!Number.isInteger(wanted) || wanted < 1)
    throw new Error('--images must be a whole number ≥ 1');
  if (wanted > available)
    throw new Error(
      `--images ${wanted} is more than the ${available} test images in ${split.dir}; lower --images or pass --dataset-dir with the full test split.`,
    );
  const evalFraction = o.evalFraction ?? 0.25;
  if (!(evalFraction >= 0 && evalFraction < 1))
    throw new Error('--eval-fraction must be in [0, 1)');
  const rand = seededUniform(o.seed);
  const chosen = shuffle([...Array(available).keys()], rand)
    .slice(0, wanted)
    .sort((a, b) => a - b);
  const labels = chosen.map((i) => split.labels[i]!);
  const parts =
    o.sites > 0
      ? dirichletSplit(labels, o.sites, o.beta, o.seed, o.minPerSite ?? 10)
      : [labels.map((_, i) => i)];
  const classes = [...split.classes];
  const px = split.side * split.side;
  const meter = createProgressMeter('sample-data', wanted, o.onProgress);

  const sites = await intoFreshFolder(out, o.force ?? false, async (tmp) => {
    const result: SampleDataResult['sites'] = [];
    for (const [s, members] of parts.entries()) {
      const name = o.sites > 0 ? `site-${s + 1}` : 'all';
      const siteRel = o.sites > 0 ? name : '';
      // Per class: shuffle, hold out the first round(fraction × n) for evaluation.
      const byClass = new Map<number, number[]>();
      for (const m of members) byClass.set(labels[m]!, [...(byClass.get(labels[m]!) ?? []), m]);
      const counts: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
      const evalCounts: Record<string, number> = Object.fromEntries(classes.map((c) => [c, 0]));
      for (const [label, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
        const order = shuffle(idx, rand);
        const nEval = o.sites > 0 ? Math.round(order.length * evalFraction) : 0;
        for (const [k, m] of order.entries()) {
          o.signal?.throwIfAborted();
          const part = o.sites > 0 ? (k < nEval ? 'eval' : 'train') : '';
          const dir = join(tmp, siteRel, part, classes[label]!);
          await mkdir(dir, { recursive: true });
          const src = chosen[m]!;
          const png = await sharp(Buffer.from(split.pixels.subarray(src * px, (src + 1) * px)), {
            raw: { width: split.side, height: split.side, channels: 1 },
          })
            .png()
            .toBuffer();
          // The test-split index in the name: a file is traceable to the dataset, never duplicated.
          await writeFile(join(dir, `fmnist-test-${String(src).padStart(5, '0')}.png`), png);
          if (part === 'eval') evalCounts[classes[label]!]!++;
          else counts[classes[label]!]!++;
          meter.advance(1);
        }
      }
      const dir = o.sites > 0 ? join(out, name) : out;
      const images = Object.values(counts).reduce((a, b) => a + b, 0);
      const evalImages = Object.values(evalCounts).reduce((a, b) => a + b, 0);
      result.push(
        o.sites > 0
          ? {
              name,
              dir: join(dir, 'train'),
              counts,
              images,
              eval: { dir: join(dir, 'eval'), counts: evalCounts, images: evalImages },
            }
          : { name, dir, counts, images },
      );
    }
    return result;
  });
  return {
    dir: out,
    classes,
    images: wanted,
    sites,
    dataset: {
      name: 'fashion-mnist',
      split: 'test',
      dir: split.dir,
      source: split.source,
      available,
    },
  };
}
