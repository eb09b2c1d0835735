import type { Command } from '../command';
import { DEVICE_OPTION, deviceOption, intOption, numberOption, optionalString, UsageError } from '../command';
import { resolveDemoModels } from '../demo/demo-models';
import { runDemo, type DemoResult } from '../demo/run-demo';
import { siteHome, sitePaths } from '../../site/site-home';

const mb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);

export function demoTable(r: DemoResult): string {
  const lines: string[] = [];
  if (r.tinyModels) lines.push('NOTE: tiny generated models — the numbers below prove the plumbing; accuracy is at chance level by design.', '');
  if (r.miniModels)
    lines.push(
      `Mini bundle on Fashion-MNIST (10 classes, chance 10%): sites hold test-split images (${r.dataset.name === 'fashion-mnist' ? r.dataset.source : ''} copy) the bundle never saw;`,
      "accuracy is on each site's held-out images; 'alone' is the same probe trained on that site's images only.",
      '',
    );
  lines.push(`Study ${r.studyId} on ${r.serverUrl}; model v${r.round.modelVersion} signed by ${r.serverKeyFingerprint.slice(0, 16)}…`, '');
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const withAlone = r.sites.some((s) => s.alone !== null);
  const head = ['site', 'images', 'rows sent', 'blocked', 'uploaded', 'verified', ...(withAlone ? ['evaluated'] : []), 'accuracy', 'balanced acc.', ...(withAlone ? ['alone acc.', 'alone bal.'] : [])];
  const rows = r.sites.map((s) => [
    s.site,
    String(s.images),
    String(s.packageRows),
    String(s.blockedRows),
    mb(s.bytesUploaded),
    s.modelVerified ? 'yes' : 'NO',
    ...(withAlone ? [String(s.evaluatedImages)] : []),
    pct(s.accuracy),
    pct(s.balancedAccuracy),
    ...(withAlone ? [s.alone ? pct(s.alone.accuracy) : '-', s.alone ? pct(s.alone.balancedAccuracy) : '-'] : []),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  lines.push(fmt(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(fmt), '');
  lines.push(`Round ${r.round.id}: ${r.round.syntheticImages} synthetic images; ` + Object.entries(r.round.stageSeconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ') + `; validation accuracy on synthetic data ${(r.round.valAccuracy * 100).toFixed(1)}%`);
  lines.push(`Communication: ${mb(r.bytes.uploadedTotal)} uploaded in total by ${r.sites.length} sites, once.`);
  lines.push(`One FedAvg round of ResNet-18 (${(r.bytes.fedAvgResNet18Params / 1e6).toFixed(1)} M parameters × 4 bytes × 2 directions × ${r.sites.length} sites) would move ${mb(r.bytes.fedAvgResNet18PerRound)} — every round (the paper compares against 200).`);
  lines.push(`Everything (server data, site ledgers, privacy and evaluation reports) is in ${r.workDir}; delete it when done.`);
  return lines.join('\n');
}

export const demoCommand: Command = {
  path: ['demo'],
  summary: 'run a whole federation on this machine: server, sites, one round, verified models, evaluation',
  description: `
Starts a server on 127.0.0.1 with embedded storage, creates a study, draws a labelled sample
image set split across --sites sites with Dirichlet(--beta) label skew, and for each site:
enrolls (pinning the server key), prepares a privacy-checked package (vocabulary prompts,
k-cohort clusters, singling-out test) and uploads it with an audit entry. The server then runs
one round: Stable Diffusion synthesis conditioned on the packages, training, signing and
publishing. Each site pulls the model, verifies its signature and every file, and evaluates it
offline on its own images. Prints a table per site and what FedAvg would have moved instead.

--models default uses the real models from the local cache (downloading them only with
FGL_ALLOW_NETWORK=1); without them it falls back to the mini bundle and says so.
--models mini: the mini foundation bundle (resources/mini-models), a small CLIP and generator
trained on Fashion-MNIST's train split. Its sites hold real Fashion-MNIST test images (10
classes), each with a held-out part it is evaluated on, next to the accuracy of the same probe
trained on that site's images alone. Offline, a few minutes on 2 cores.
--models tiny runs anywhere, offline, in about a minute, with chance-level accuracy by design.`,
  options: {
    sites: { type: 'string', value: 'N', default: '3', description: 'number of sites' },
    beta: { type: 'string', value: 'B', default: '0.5', description: 'Dirichlet label skew (small = very non-IID)' },
    models: { type: 'string', value: 'default|mini|tiny|DIR', default: 'default', description: 'models to use' },
    images: { type: 'string', value: 'N', default: '1500', description: 'mini: Fashion-MNIST test images over all sites' },
    'dataset-dir': { type: 'string', value: 'DIR', description: 'mini: folder with the Fashion-MNIST test IDX files (default Debian\'s, else the repo subset)' },
    classes: { type: 'string', value: 'N', default: '4', description: 'tiny/real: number of sample classes (shapes)' },
    'per-class': { type: 'string', value: 'M', default: '30', description: 'tiny/real: sample images per class (all sites together)' },
    seed: { type: 'string', value: 'S', default: '7', description: 'random seed for data and synthesis' },
    device: DEVICE_OPTION,
    'work-dir': { type: 'string', value: 'DIR', description: 'keep everything (server data, site ledgers, reports) here' },
    'share-metrics': { type: 'boolean', description: 'sites opt in to send aggregate evaluation metrics to the server' },
  },
  examples: ['npm run demo', 'fgl demo --models mini --sites 5 --beta 0.1 --json', 'fgl demo --sites 5 --beta 0.1 --models tiny --json', 'fgl demo --models ./models --work-dir ./demo-run'],
  async run(ctx) {
    const sites = intOption(ctx, 'sites', 3, 1);
    if (sites > 20) throw new UsageError('--sites is at most 20 in the demo');
    const say = (l: string) => ctx.out.info(l);
    const models = await resolveDemoModels(optionalString(ctx, 'models') ?? 'default', sitePaths(siteHome()).models, say);
    if (models.banner) process.stderr.write(`\n${'='.repeat(78)}\n${models.banner}\n${'='.repeat(78)}\n\n`);
    const workDir = optionalString(ctx, 'work-dir');
    const result = await runDemo({
      sites,
      beta: numberOption(ctx, 'beta', 0.5)!,
      classes: intOption(ctx, 'classes', 4, 2),
      perClass: intOption(ctx, 'per-class', 30, 5),
      images: intOption(ctx, 'images', 1500, 50),
      ...(optionalString(ctx, 'dataset-dir') !== undefined ? { datasetDir: optionalString(ctx, 'dataset-dir')! } : {}),
      seed: intOption(ctx, 'seed', 7, 0),
      modelsDir: models.dir,
      device: deviceOption(ctx),
      ...(workDir ? { workDir } : {}),
      signal: ctx.signal,
      say,
      shareMetrics: Boolean(ctx.values['share-metrics']),
    });
    ctx.out.result({ ...result, banner: models.banner }, () => demoTable(result));
  },
};
