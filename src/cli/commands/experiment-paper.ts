import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../command';
import { intOption, optionalString, UsageError } from '../command';
import {
  GLOBAL_MODELS,
  PAPER_SCALES,
  runPaperExperiment,
  type GlobalModel,
} from '../experiment/paper-experiment';
import { canRunInProcesses, parseSplits, runPaperInProcesses } from '../experiment/paper-parallel';
import { paperPlot, paperTable } from '../experiment/paper-report';
import { resolveModelsOption } from '../study/models-folder';
import { siteHome, sitePaths } from '../../site/site-home';
import type { DeviceChoice } from '../../core/ort/execution-device';

export const experimentPaperCommand: Command = {
  path: ['experiment', 'paper'],
  summary:
    "the paper's comparison on the mini bundle: FGL vs FedAvg vs site alone vs centralized, per label skew",
  description: `
Runs the comparison of Zhang et al. (arXiv 2306.16064) on the mini bundle and Fashion-MNIST: 5
sites from the test split with Dirichlet β ∈ {0.01, 0.1, 0.5} and IID label skew, each with a
held-out part; the global test set is the union of the held-out parts. Each method trains the
same global model, for each of two models: the study's MLP probe on the mini CLIP's features, and
a small ResNet-8 from scratch on the pixels (the paper's choice). Methods: centralized (all
sites' images pooled: the upper bound), each site alone (mean), FedAvg (R rounds), FGL one round
with class prompts, FGL one round with vocabulary prompts (each image's nearest phrases of the
general vocabulary), and FGL (class prompts) followed by FedAvg rounds. Prints one row per
(split, model, method): accuracy, balanced accuracy and the bytes it moves. It is a mini bundle
on Fashion-MNIST, not Stable Diffusion on ImageNet. Sizes: default 5,000 images, probe FedAvg
50 rounds, 100 synthetic images per class; --quick 1,500 images, 10 rounds, 40 per class (the
CNN with fewer rounds and epochs, see PAPER_SCALES); --tiny one split at seconds-scale sizes, for
tests only (its numbers are noise). Splits run in parallel processes, one per core (--jobs); a
split's numbers depend only on the seed, so --jobs changes the time, not the table.`,
  options: {
    quick: { type: 'boolean', description: 'a smaller, faster run (minutes)' },
    tiny: {
      type: 'boolean',
      description: 'one split at test sizes (seconds to a minute; numbers are noise)',
    },
    split: {
      type: 'string',
      value: 'LIST',
      description:
        'only these splits, comma-separated: 0.01, 0.1, 0.5, iid (default all; --tiny: 0.5)',
    },
    jobs: {
      type: 'string',
      value: 'N',
      description:
        'splits run at once, each in its own process (default: one per core, at most one per split)',
    },
    'negative-prompt': {
      type: 'string',
      value: 'TEXT',
      description:
        "synthesis's negative prompt (default empty, the unconditional input; studies default to 'low quality, low resolution')",
    },
    'global-model': {
      type: 'string',
      value: 'probe|cnn|all',
      default: 'all',
      description: 'which global model(s) to train',
    },
    seed: {
      type: 'string',
      value: 'S',
      default: '1',
      description: 'random seed for data, synthesis and training',
    },
    models: {
      type: 'string',
      value: 'mini|DIR',
      default: 'mini',
      description: 'the mini bundle (or a copy of it)',
    },
    'dataset-dir': {
      type: 'string',
      value: 'DIR',
      description: "Fashion-MNIST IDX files (default Debian's, else the repo subset)",
    },
    out: {
      type: 'string',
      value: 'DIR',
      description: 'also write results.json, table.md and plot.svg here',
    },
    device: {
      type: 'string',
      value: 'DEV',
      default: 'cpu',
      description: 'auto | cpu | cuda | dml | coreml',
    },
  },
  examples: [
    'npm run experiment -- --quick',
    'fgl experiment paper --quick --json',
    'fgl experiment paper --out docs/experiments',
  ],
  async run(ctx) {
    const quick = Boolean(ctx.values.quick);
    const tiny = Boolean(ctx.values.tiny);
    if (quick && tiny) throw new UsageError('--quick and --tiny are two sizes; give one.');
    const which = optionalString(ctx, 'global-model') ?? 'all';
    if (which !== 'all' && !GLOBAL_MODELS.includes(which as GlobalModel))
      throw new UsageError(`--global-model takes probe, cnn or all; got "${which}".`);
    const globalModels = which === 'all' ? GLOBAL_MODELS : [which as GlobalModel];
    const modelsDir = await resolveModelsOption(
      optionalString(ctx, 'models') ?? 'mini',
      sitePaths(siteHome()).models,
    );
    const scale = tiny ? 'tiny' : quick ? 'quick' : 'full';
    const splitText = optionalString(ctx, 'split');
    let splits = PAPER_SCALES[scale].splits;
    if (splitText !== undefined) {
      try {
        splits = parseSplits(splitText);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    // Several processes need the CLI entry (a checkout or the npm package); elsewhere one runs them all.
    const jobs = canRunInProcesses()
      ? Math.min(intOption(ctx, 'jobs', availableParallelism(), 1), splits.length)
      : 1;
    const seed = intOption(ctx, 'seed', 1, 0);
    const device = (optionalString(ctx, 'device') ?? 'cpu') as DeviceChoice;
    const datasetDir = optionalString(ctx, 'dataset-dir');
    const negativePrompt = optionalString(ctx, 'negative-prompt') ?? '';
    const say = (l: string) => ctx.out.info(l);
    const started = Date.now();
    const result =
      jobs > 1
        ? await runPaperInProcesses({
            splits,
            jobs,
            childArgs: [
              ...(tiny ? ['--tiny'] : quick ? ['--quick'] : []),
              '--global-model',
              which,
              '--seed',
              String(seed),
              '--models',
              modelsDir,
              '--device',
              device,
              ...(datasetDir !== undefined ? ['--dataset-dir', datasetDir] : []),
              // --x=VALUE keeps an empty or dash-led prompt one argument.
              `--negative-prompt=${negativePrompt}`,
            ],
            say,
            shown: !ctx.out.json,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          })
        : await runPaperExperiment({
            modelsDir,
            workDir: await mkdtemp(join(tmpdir(), 'fgl-experiment-')),
            scale,
            splits,
            globalModels,
            seed,
            device,
            negativePrompt,
            ...(datasetDir !== undefined ? { datasetDir } : {}),
            say,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          });
    const seconds = Math.round((Date.now() - started) / 1000);
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`;
    const caption = `${new Date().toISOString().slice(0, 10)}, ${machine}, tfjs ${result.settings.backend}, ${quick ? '--quick, ' : tiny ? '--tiny, ' : ''}${jobs} process${jobs > 1 ? 'es' : ''}, ${seconds} s`;
    const out = optionalString(ctx, 'out');
    if (out) {
      await mkdir(out, { recursive: true });
      await writeFile(
        join(out, 'results.json'),
        JSON.stringify(
          { ...result, machine, jobs, date: new Date().toISOString(), seconds },
          null,
          2,
        ) + '\n',
      );
      await writeFile(join(out, 'table.md'), paperTable(result) + '\n');
      await writeFile(join(out, 'plot.svg'), paperPlot(result, caption));
    }
    ctx.out.result(
      { ...result, machine, jobs, seconds },
      () => `${paperTable(result)}\n\n${caption}`,
    );
  },
};
