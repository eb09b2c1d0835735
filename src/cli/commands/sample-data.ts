import type { Command } from '../command';
import { intOption, numberOption, optionalString, requireString, UsageError } from '../command';
import { makeSampleData } from '../sample-data/make-sample-data';
import { makeFashionSampleData } from '../sample-data/fashion-sample-data';
import { DEBIAN_FASHION_MNIST_DIR } from '../sample-data/fashion-mnist';
import { SAMPLE_CLASSES } from '../sample-data/sample-classes';
import { progressPrinter } from '../progress-printer';

export const sampleDataCommand: Command = {
  path: ['sample-data'],
  summary: 'write a labelled image set (Fashion-MNIST or drawn shapes), optionally split across sites with label skew',
  description: `
Writes PNG images in ImageFolder layout (one folder per class).

--dataset fashion-mnist: real images from Fashion-MNIST's TEST split (10 classes, 28×28 grey),
which the mini models (resources/mini-models) never saw: they were trained on the train split.
Read from --dataset-dir, else Debian's package (${DEBIAN_FASHION_MNIST_DIR}, apt-get install
dataset-fashion-mnist), else the 3,000-image subset in resources/datasets/fashion-mnist.
With --sites N each site gets OUT/site-i/train/<class>/ (what it prepares packages from) and
OUT/site-i/eval/<class>/ (--eval-fraction of each class, held out for its local evaluation).

--dataset shapes (default): drawn procedurally: plain shapes, colours and textures
(${SAMPLE_CLASSES.map((c) => c.name).join(', ')}). Real CLIP and Stable Diffusion know these names.

With --sites N the images are split into OUT/site-1 … OUT/site-N with a Dirichlet(β) label skew
per class, as in the paper's non-IID experiments (β=0.01 very skewed, β=100 nearly IID); every
site gets at least --min-per-site images. The same --seed always draws the same images.
OUT must be empty or new; --force replaces it.`,
  options: {
    out: { type: 'string', value: 'DIR', description: 'folder to create (must be empty or new unless --force)' },
    force: { type: 'boolean', description: 'replace OUT if it holds anything' },
    dataset: { type: 'string', value: 'NAME', default: 'shapes', description: 'shapes | fashion-mnist' },
    'dataset-dir': { type: 'string', value: 'DIR', description: 'fashion-mnist: folder with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz' },
    images: { type: 'string', value: 'N', description: 'fashion-mnist: images to draw from the test split (default all)' },
    'eval-fraction': { type: 'string', value: 'F', default: '0.25', description: 'fashion-mnist with --sites: share of each site held out for evaluation' },
    classes: { type: 'string', value: 'N', default: '4', description: `number of classes, 2–${SAMPLE_CLASSES.length}` },
    'per-class': { type: 'string', value: 'M', default: '30', description: 'images per class (before splitting)' },
    seed: { type: 'string', value: 'S', default: '1', description: 'random seed' },
    size: { type: 'string', value: 'PX', default: '128', description: 'image width and height in pixels' },
    sites: { type: 'string', value: 'N', description: 'split across N site folders' },
    beta: { type: 'string', value: 'B', default: '0.5', description: 'Dirichlet concentration for the split' },
    'min-per-site': { type: 'string', value: 'N', default: '10', description: 'minimum images per site' },
  },
  examples: [
    'fgl sample-data --dataset fashion-mnist --sites 5 --beta 0.1 --seed 1 --out ./fmnist-sites',
    'fgl sample-data --out ./sample --classes 4 --per-class 50',
    'fgl sample-data --out ./sites --sites 3 --beta 0.5',
  ],
  async run(ctx) {
    const out = requireString(ctx, 'out');
    const sites = intOption(ctx, 'sites', 0, 0);
    const force = Boolean(ctx.values.force);
    const dataset = optionalString(ctx, 'dataset') ?? 'shapes';
    if (dataset !== 'shapes' && dataset !== 'fashion-mnist') throw new UsageError(`--dataset must be shapes or fashion-mnist, not "${dataset}"`);
    const result =
      dataset === 'fashion-mnist'
        ? await makeFashionSampleData(out, {
            sites,
            beta: numberOption(ctx, 'beta', 0.5)!,
            seed: intOption(ctx, 'seed', 1, 0),
            ...(optionalString(ctx, 'images') !== undefined ? { images: intOption(ctx, 'images', 1, 1) } : {}),
            evalFraction: numberOption(ctx, 'eval-fraction', 0.25)!,
            minPerSite: intOption(ctx, 'min-per-site', 10, 0),
            ...(optionalString(ctx, 'dataset-dir') !== undefined ? { datasetDir: optionalString(ctx, 'dataset-dir')! } : {}),
            force,
            signal: ctx.signal,
            onProgress: progressPrinter(ctx.out),
          })
        : await makeSampleData(out, {
      classes: intOption(ctx, 'classes', 4, 2),
      perClass: intOption(ctx, 'per-class', 30, 1),
      seed: intOption(ctx, 'seed', 1, 0),
      size: intOption(ctx, 'size', 128, 16),
            ...(sites > 0 ? { sites, beta: numberOption(ctx, 'beta', 0.5)!, minPerSite: intOption(ctx, 'min-per-site', 10, 0) } : {}),
            force,
            signal: ctx.signal,
            onProgress: progressPrinter(ctx.out),
          });
    ctx.out.result(result, () => {
      const lines = [`Wrote ${result.images} images of ${result.classes.length} classes to ${result.dir}`];
      for (const s of result.sites) {
        lines.push(`  ${s.name.padEnd(8)} ${String(s.images).padStart(5)} images  ` + result.classes.map((c) => `${c}: ${s.counts[c]}`).join(', '));
        if (s.eval) lines.push(`  ${''.padEnd(8)} ${String(s.eval.images).padStart(5)} held out for evaluation in ${s.eval.dir}`);
      }
      return lines.join('\n');
    });
  },
};
