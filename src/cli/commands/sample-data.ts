import type { Command } from '../command';
import { intOption, numberOption, requireString } from '../command';
import { makeSampleData } from '../sample-data/make-sample-data';
import { SAMPLE_CLASSES } from '../sample-data/sample-classes';
import { progressPrinter } from '../progress-printer';

export const sampleDataCommand: Command = {
  path: ['sample-data'],
  summary: 'draw a labelled sample image set (optionally split across sites with label skew)',
  description: `
Writes PNG images in ImageFolder layout (one folder per class) drawn procedurally: plain shapes,
colours and textures (${SAMPLE_CLASSES.map((c) => c.name).join(', ')}).
Real CLIP and Stable Diffusion models know these names, so a demo on them means something.

With --sites N the images are split into OUT/site-1 … OUT/site-N with a Dirichlet(β) label skew
per class, as in the paper's non-IID experiments (β=0.01 very skewed, β=100 nearly IID); every
site gets at least --min-per-site images. The same --seed always draws the same images.`,
  options: {
    out: { type: 'string', value: 'DIR', description: 'folder to create (replaced if it exists)' },
    classes: { type: 'string', value: 'N', default: '4', description: `number of classes, 2–${SAMPLE_CLASSES.length}` },
    'per-class': { type: 'string', value: 'M', default: '30', description: 'images per class (before splitting)' },
    seed: { type: 'string', value: 'S', default: '1', description: 'random seed' },
    size: { type: 'string', value: 'PX', default: '128', description: 'image width and height in pixels' },
    sites: { type: 'string', value: 'N', description: 'split across N site folders' },
    beta: { type: 'string', value: 'B', default: '0.5', description: 'Dirichlet concentration for the split' },
    'min-per-site': { type: 'string', value: 'N', default: '10', description: 'minimum images per site' },
  },
  examples: ['fgl sample-data --out ./sample --classes 4 --per-class 50', 'fgl sample-data --out ./sites --sites 3 --beta 0.5'],
  async run(ctx) {
    const out = requireString(ctx, 'out');
    const sites = intOption(ctx, 'sites', 0, 0);
    const result = await makeSampleData(out, {
      classes: intOption(ctx, 'classes', 4, 2),
      perClass: intOption(ctx, 'per-class', 30, 1),
      seed: intOption(ctx, 'seed', 1, 0),
      size: intOption(ctx, 'size', 128, 16),
      ...(sites > 0 ? { sites, beta: numberOption(ctx, 'beta', 0.5)!, minPerSite: intOption(ctx, 'min-per-site', 10, 0) } : {}),
      signal: ctx.signal,
      onProgress: progressPrinter(ctx.out),
    });
    ctx.out.result(result, () => {
      const lines = [`Wrote ${result.images} images of ${result.classes.length} classes to ${result.dir}`];
      for (const s of result.sites) {
        lines.push(`  ${s.name.padEnd(8)} ${String(s.images).padStart(5)} images  ` + result.classes.map((c) => `${c}: ${s.counts[c]}`).join(', '));
      }
      return lines.join('\n');
    });
  },
};
