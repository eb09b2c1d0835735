import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from '../command';
import { deviceOption, DEVICE_OPTION, intOption, numberOption, optionalString, UsageError } from '../command';
import { MEMBERSHIP_TARGETS, runMembershipExperiment, type MembershipResult } from '../experiment/membership-experiment';
import { resolveModelsOption } from '../study/models-folder';
import { siteHome, sitePaths } from '../../site/site-home';

/** The goal for the published model: member vs non-member AUC at most this, at every site. */
export const MEMBERSHIP_AUC_GOAL = 0.55;

function table(r: MembershipResult): string {
  const f = (a: { auc: number; low: number; high: number }) => `${a.auc.toFixed(3)} [${a.low.toFixed(3)}, ${a.high.toFixed(3)}]`;
  const lines = ['| model | site | members + non-members | loss-threshold AUC [95 % CI] | shadow-model AUC [95 % CI] |', '| --- | --- | ---: | --- | --- |'];
  for (const t of MEMBERSHIP_TARGETS) {
    for (const s of r.targets[t].sites) lines.push(`| ${t} | ${s.site} | ${s.members} + ${s.nonMembers} | ${f(s.lossThreshold)} | ${f(s.shadow)} |`);
    const p = r.targets[t].pooled;
    lines.push(`| ${t} | all | ${p.lossThreshold.members} + ${p.lossThreshold.nonMembers} | ${f(p.lossThreshold)} | ${f(p.shadow)} |`);
  }
  return lines.join('\n');
}

export const experimentMembershipCommand: Command = {
  path: ['experiment', 'membership'],
  summary: "membership inference against FGL's published model on the mini bundle: AUC per site, with positive controls",
  description: `
Can someone holding the published model tell whether an image was one of a site's? Runs a target
federation and shadow federations on disjoint Fashion-MNIST test images (the mini bundle never saw
them), each site preparing its package with the production code and the round synthesizing and
training as the server does. Members of a site: the images it prepared its package from (a
random half of each class; figures for the images of sent rows alone too); non-members: its
held-out images of the same classes (class-matched). Two attacks on the published model's
outputs: a loss threshold and a shadow-model attack (logistic regression on the shadow models'
loss, entropy, confidence and margin). AUC per site with a bootstrap 95 % interval. Positive
controls: the same attacks against the study's probe trained directly on the site's member
images (study recipe, and memorising: all of them, no early stopping), which must come out above
0.5, else the measurement is not credible. Goal for the published model: AUC ≤ ${MEMBERSHIP_AUC_GOAL}.
It is a mini bundle on Fashion-MNIST; docs/membership-inference.md says what that does and does not show.`,
  options: {
    sites: { type: 'string', value: 'N', default: '3', description: 'sites per federation' },
    images: { type: 'string', value: 'N', default: '900', description: 'test images per federation (half of each site held out)' },
    shadows: { type: 'string', value: 'N', default: '2', description: 'shadow federations (disjoint data)' },
    beta: { type: 'string', value: 'B', default: '0.5', description: 'Dirichlet label skew across sites' },
    'control-epochs': { type: 'string', value: 'N', default: '300', description: 'epochs of the memorising control' },
    bootstrap: { type: 'string', value: 'N', default: '1000', description: 'bootstrap resamples per interval' },
    seed: { type: 'string', value: 'S', default: '1', description: 'random seed for data, prepare, synthesis and training' },
    models: { type: 'string', value: 'mini|DIR', default: 'mini', description: 'the mini bundle (or a copy of it)' },
    'dataset-dir': { type: 'string', value: 'DIR', description: "Fashion-MNIST IDX files (default Debian's, else the repo subset)" },
    out: { type: 'string', value: 'DIR', description: 'also write membership-inference.json (the report appendix reads this format) and membership-table.md here' },
    device: { ...DEVICE_OPTION, default: 'cpu' },
  },
  examples: ['fgl experiment membership', 'fgl experiment membership --sites 2 --images 400 --shadows 1 --json', 'fgl experiment membership --out resources/privacy'],
  async run(ctx) {
    const modelsDir = await resolveModelsOption(optionalString(ctx, 'models') ?? 'mini', sitePaths(siteHome()).models);
    const beta = numberOption(ctx, 'beta', 0.5)!;
    if (!(beta > 0)) throw new UsageError(`--beta must be > 0, got ${beta}`);
    const started = Date.now();
    const result = await runMembershipExperiment({
      modelsDir,
      workDir: await mkdtemp(join(tmpdir(), 'fgl-membership-')),
      seed: intOption(ctx, 'seed', 1, 0),
      device: optionalString(ctx, 'device') ? deviceOption(ctx) : 'cpu',
      sites: intOption(ctx, 'sites', 3, 1),
      images: intOption(ctx, 'images', 900, 20),
      shadows: intOption(ctx, 'shadows', 2, 1),
      beta,
      controlEpochs: intOption(ctx, 'control-epochs', 300, 1),
      bootstrap: intOption(ctx, 'bootstrap', 1000, 10),
      ...(optionalString(ctx, 'dataset-dir') !== undefined ? { datasetDir: optionalString(ctx, 'dataset-dir')! } : {}),
      say: (l) => ctx.out.info(l),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const seconds = Math.round((Date.now() - started) / 1000);
    const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`;
    const st = result.settings;
    const command = `fgl experiment membership --sites ${st.sites} --images ${st.imagesPerFederation} --shadows ${st.shadows} --beta ${st.beta} --control-epochs ${st.controlEpochs} --bootstrap ${st.bootstrap} --seed ${st.seed}`;
    const figures = { format: 'fgl-membership-inference', version: 1, date: new Date().toISOString(), machine, seconds, command, goal: MEMBERSHIP_AUC_GOAL, ...result };
    const out = optionalString(ctx, 'out');
    if (out) {
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'membership-inference.json'), JSON.stringify(figures, null, 2) + '\n');
      await writeFile(join(out, 'membership-table.md'), table(result) + '\n');
    }
    ctx.out.result(figures, () => `${table(result)}\n\n${figures.date.slice(0, 10)}, ${machine}, ${seconds} s. Goal for fgl: AUC ≤ ${MEMBERSHIP_AUC_GOAL}.`);
  },
};
