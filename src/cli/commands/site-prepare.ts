import type { Command } from '../command';
import {
  LABEL_ATTRIBUTE_OPTION,
  labelAttributeOption,
  numberOption,
  DEVICE_OPTION,
  deviceOption,
  optionalString,
  requireString,
  UsageError,
  intOption,
} from '../command';
import { progressPrinter } from '../progress-printer';
import { PromptMode, Aggregation } from '../../shared/study';
import { siteHome, sitePaths } from '../../site/site-home';
import { loadStudy } from '../study/load-study';

/**
 * The heavy part of this command (ONNX Runtime, transformers.js and sharp behind the pipeline and
 * the models folder; better-sqlite3 behind the ledger), imported only
 * once the options are read: a usage error, `--help` and the start of the work do not wait for
 * them (`npm run bench -- cli`, "site prepare").
 */
async function heavy() {
  const [
    { locateModelsFolder },
    { resolveModelsOption },
    { Ledger },
    { preparePackage },
    { MachineSpend },
  ] = await Promise.all([
    import('../../core/models/model-folders'),
    import('../study/models-folder'),
    import('../../site/ledger/ledger'),
    import('../../site/prepare/prepare-package'),
    import('../../site/privacy/machine-spend'),
  ]);
  return { locateModelsFolder, resolveModelsOption, Ledger, preparePackage, MachineSpend };
}

/** `Normal=normal,Scans=` → { Normal: 'normal', Scans: null } (empty = leave the folder out). */
export function parseClassMapOption(s: string): Record<string, string | null> {
  const map: Record<string, string | null> = {};
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    const folder = part.slice(0, eq).trim();
    if (eq < 0 || folder === '')
      throw new UsageError(
        `--class-map entry "${part.trim()}" is not FOLDER=CLASS`,
        'Write it as --class-map "Normal=normal,Other=" (an empty class leaves that folder out).',
      );
    const cls = part.slice(eq + 1).trim();
    map[folder] = cls === '' ? null : cls;
  }
  return map;
}

export const sitePrepareCommand: Command = {
  path: ['site', 'prepare'],
  summary: 'turn an image folder into a privacy-checked embedding package and report',
  description: `
Scans the folder (read-only), computes CLIP image embeddings (cached in the site ledger, they
never leave), builds one prompt per image, encodes prompts with the study's generator text
encoder, aggregates them into rows of at least k images, blocks rows that single out an
image, optionally adds differential-privacy noise, and writes to --out:

  package.safetensors    what would leave this computer (nothing is uploaded here)
                         with --dp-epsilon: plan.json instead, a plan with no noise drawn and
                         no ε charged; \`fgl site upload\` approves it (draws the noise once,
                         charges ε, writes the package) and sends it
  privacy-report.md      what leaves, every check per row, what was blocked and why
  privacy-report.json    the same for programs (and the app's preview screen)

Prompt modes: class (the study's templates), vocabulary (best-matching phrases from the study's
controlled vocabulary: no free text leaves), instance (a caption per image, PHI-scrubbed).
Aggregation: class (one mean row per class), cluster (k-means clusters of ≥ k images),
instance (one row per image; only if the study allows it).

Site state (ledger, caches) lives in $FGL_HOME. Ctrl-C cancels; a rerun reuses cached work.`,
  options: {
    data: {
      type: 'string',
      value: 'DIR',
      description: 'dataset folder (one sub-folder per class) or the folder of --manifest',
    },
    'label-attribute': LABEL_ATTRIBUTE_OPTION,
    'caption-burned-in': {
      type: 'boolean',
      description:
        'also caption images that may show burned-in text (DICOM BurnedInAnnotation, ultrasound, secondary capture); default: they get the class prompt',
    },
    manifest: {
      type: 'string',
      value: 'FILE',
      description: 'CSV/JSON manifest with path,label instead of class folders',
    },
    study: {
      type: 'string',
      value: 'ID|FILE',
      description:
        'study id (fetched from the enrolled server, cached for offline use) or a manifest JSON file',
    },
    out: { type: 'string', value: 'DIR', description: 'folder for the package and report' },
    models: {
      type: 'string',
      value: 'tiny|DIR',
      default: 'tiny',
      description: 'model folder with clip/, generator/ (and captioner/)',
    },
    prompts: {
      type: 'string',
      value: 'MODE',
      default: 'class',
      description: 'class | vocabulary | instance',
    },
    aggregate: {
      type: 'string',
      value: 'MODE',
      default: 'class',
      description: 'class | cluster | instance',
    },
    k: { type: 'string', value: 'N', description: "minimum images per row (≥ the study's k)" },
    'dp-epsilon': {
      type: 'string',
      value: 'E',
      description: 'add Gaussian noise for (ε, δ)-differential privacy with this ε',
    },
    device: DEVICE_OPTION,
    'site-id': {
      type: 'string',
      value: 'ID',
      description: 'site id for the package (default: the id this site enrolled with)',
    },
    'class-map': {
      type: 'string',
      value: 'MAP',
      description:
        'folder → class where names differ: "Folder=class,Other=" (empty = leave the folder out); other folders match class names ignoring case, spaces, _ and -',
    },
    'batch-size': {
      type: 'string',
      value: 'N',
      default: '16',
      description: 'images per model call',
    },
  },
  examples: [
    'fgl site prepare --data ./images --study shapes-1a2b3c --out ./pkg',
    'fgl site prepare --data ./images --study study.json --out ./pkg',
    'fgl site prepare --data ./images --study study.json --out ./pkg --class-map "Normal=normal,Unsorted="',
    'fgl site prepare --data ./images --study study.json --out ./pkg --prompts vocabulary --aggregate cluster --k 10 --dp-epsilon 1',
  ],
  async run(ctx) {
    const studyArg = requireString(ctx, 'study');
    const paths0 = sitePaths(siteHome());
    const study = await loadStudy(studyArg, paths0);
    const promptMode = PromptMode.safeParse(optionalString(ctx, 'prompts') ?? 'class');
    if (!promptMode.success)
      throw new UsageError('--prompts must be class, vocabulary or instance');
    const aggregation = Aggregation.safeParse(optionalString(ctx, 'aggregate') ?? 'class');
    if (!aggregation.success)
      throw new UsageError('--aggregate must be class, cluster or instance');
    const device = deviceOption(ctx);
    const paths = sitePaths(siteHome());
    requireString(ctx, 'data');
    requireString(ctx, 'out');
    const { locateModelsFolder, resolveModelsOption, Ledger, preparePackage, MachineSpend } =
      await heavy();
    const modelsDir = await resolveModelsOption(
      optionalString(ctx, 'models') ?? 'tiny',
      paths.models,
      { site: true },
    );
    const models = await locateModelsFolder(modelsDir);
    const ledger = Ledger.open(paths.ledger);
    try {
      const enrolled = ledger.enrollments.list().find((e) => e.studyId === study.id);
      const siteId = optionalString(ctx, 'site-id') ?? enrolled?.siteId;
      if (!siteId)
        ctx.out.warn(
          `this site is not enrolled in study ${study.id}: the package is marked site "unenrolled" and the server will refuse it. Enroll first (fgl site enroll) or pass --site-id.`,
        );
      const dpEpsilon = numberOption(ctx, 'dp-epsilon', undefined);
      // The machine-wide ε record: what every FGL_HOME of this account has spent on these images.
      const machine = dpEpsilon !== undefined ? MachineSpend.open() : undefined;
      const result = await preparePackage({
        ...(machine ? { machine } : {}),
        ledger,
        dataDir: requireString(ctx, 'data'),
        ...(optionalString(ctx, 'manifest') ? { manifest: optionalString(ctx, 'manifest')! } : {}),
        ...labelAttributeOption(ctx),
        ...(ctx.values['caption-burned-in'] === true ? { captionBurnedIn: true } : {}),
        study,
        siteId: siteId ?? 'unenrolled',
        models,
        promptMode: promptMode.data,
        aggregation: aggregation.data,
        ...(optionalString(ctx, 'class-map')
          ? { classMap: parseClassMapOption(optionalString(ctx, 'class-map')!) }
          : {}),
        ...(ctx.values.k !== undefined ? { k: intOption(ctx, 'k', study.privacy.k, 1) } : {}),
        ...(dpEpsilon !== undefined ? { dpEpsilon } : {}),
        outDir: requireString(ctx, 'out'),
        device,
        batchSize: intOption(ctx, 'batch-size', 16, 1),
        signal: ctx.signal,
        ...(progressPrinter(ctx.out) ? { onProgress: progressPrinter(ctx.out)! } : {}),
      }).finally(() => machine?.close());
      const r = result.report;
      if (r.tinyModels)
        ctx.out.warn(
          'tiny test models were used: the package proves the plumbing, not meaningful content.',
        );
      ctx.out.result(
        {
          runId: result.runId,
          package: result.plan ? null : result.packagePath,
          plan: result.plan?.path ?? null,
          sha256: result.sha256,
          bytes: result.bytes,
          reportJson: result.reportJsonPath,
          reportMarkdown: result.reportMarkdownPath,
          rows: r.outgoing.rows,
          blockedRows: r.rows.filter((x) => x.blocked).length,
          images: r.dataset.images,
          classes: r.dataset.classes,
          suppressed: r.suppressed,
          dp: r.dp,
          devices: r.devices,
        },
        () =>
          [
            ...(result.plan
              ? [
                  `Plan ${result.plan.path} (differential privacy: no noise drawn, no ε charged yet)`,
                  `  up to ${r.outgoing.rows} rows [n×${r.outgoing.shape.slice(1).join('×')}] ${r.outgoing.dtype}: the bins whose noisy count reaches ${r.dp?.threshold.toFixed(1)} when approved`,
                ]
              : [
                  `Package ${result.packagePath}`,
                  `  ${r.outgoing.rows} rows [${r.outgoing.shape.join('×')}] ${r.outgoing.dtype}, ${result.bytes} bytes, sha256 ${result.sha256}`,
                ]),
            `  from ${r.dataset.images} images: ${r.dataset.classes.map((c) => `${c.name} ${c.count}`).join(', ')}`,
            `  blocked rows: ${r.rows.filter((x) => x.blocked).length}; suppressed classes: ${r.suppressed.length}${r.dp ? `; ε ${r.dp.epsilon.toFixed(3)} on approval (total then ${r.dp.totalAfter.toFixed(3)})` : ''}`,
            `  devices: ${Object.entries(r.devices)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`,
            result.plan
              ? `Review ${result.reportMarkdownPath}; approving it draws the noise, charges ε and uploads: fgl site upload --package ${requireString(ctx, 'out')} --approver NAME.`
              : `Review ${result.reportMarkdownPath} before uploading (fgl site upload --package ${requireString(ctx, 'out')}).`,
          ].join('\n'),
      );
    } finally {
      ledger.close();
    }
  },
};
