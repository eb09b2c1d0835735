import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from '../command';
import { intOption, numberOption, optionalString, requireString, UsageError } from '../command';
import { buildStudyManifest, parseClassList } from '../study/build-study';
import { describeModelsFolder, resolveModelsOption } from '../study/models-folder';
import { vocabularyOption } from '../resources';
import { sitePaths, siteHome } from '../../site/site-home';
import { PromptMode, SchedulerName } from '../../shared/study';

export const studyInitCommand: Command = {
  path: ['study', 'init'],
  summary: 'write a study manifest (classes, prompts, models with digests, privacy floor)',
  description: `
Writes a study manifest: the same JSON the server serves to enrolled sites. It names the classes,
the prompt templates (the paper's "{class}, real world images, high resolution"), the
conditioning encoder every site must run byte for byte (id + sha256 digest + hidden size D),
the CLIP model and the generator with its sampling settings, and the privacy floor sites may
tighten but never loosen: k (images per outgoing row), whether one-row-per-image packages are
allowed, and the cumulative differential-privacy budget ε.

--models tiny uses generated tiny models (plumbing only, chance-level accuracy); --models DIR
uses real models from a folder with clip/, captioner/ and generator/ (see README, "Models").`,
  options: {
    name: { type: 'string', value: 'NAME', description: 'human-readable study name' },
    classes: { type: 'string', value: 'a,b,c', description: 'comma-separated class names (the labels sites use)' },
    models: { type: 'string', value: 'tiny|DIR', default: 'tiny', description: 'models to reference' },
    out: { type: 'string', value: 'FILE', description: 'where to write the manifest JSON' },
    k: { type: 'string', value: 'N', default: '5', description: 'minimum images behind every outgoing row' },
    'max-epsilon': { type: 'string', value: 'E', description: 'cumulative DP budget per dataset (omit: DP optional)' },
    'allow-instance': { type: 'boolean', description: 'allow one row per image (weaker privacy; off by default)' },
    modes: { type: 'string', value: 'class,vocabulary,instance', description: 'prompt modes sites may use' },
    vocabulary: { type: 'string', value: 'NAME|FILE', description: 'controlled vocabulary for `vocabulary` prompts: radiology, dermatology, pathology, ophthalmology, general-photos (default), shapes (the demo), or a FILE of reviewed phrases' },
    'images-per-row': { type: 'string', value: 'N', description: 'images the server synthesizes per outgoing row' },
    scheduler: { type: 'string', value: 'NAME', description: "sampler: pndm, ddim, euler, euler-ancestral or turbo (default: what the generator's scheduler_config.json calls for)" },
  },
  examples: [
    'fgl study init --name "Skin lesions" --classes nevus,melanoma,keratosis --vocabulary dermatology --models tiny --out study.json',
    'fgl study init --name Shapes --classes "red circle,blue square" --models ./models --k 10 --max-epsilon 8 --out study.json --json',
  ],
  async run(ctx) {
    const out = requireString(ctx, 'out');
    const name = requireString(ctx, 'name');
    let classes: string[];
    try {
      classes = parseClassList(requireString(ctx, 'classes'));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const modesRaw = optionalString(ctx, 'modes');
    const modes = modesRaw?.split(',').map((m) => {
      const p = PromptMode.safeParse(m.trim());
      if (!p.success) throw new UsageError(`--modes: unknown prompt mode "${m}" (class, instance, vocabulary)`);
      return p.data;
    });
    const modelsArg = optionalString(ctx, 'models') ?? 'tiny';
    const modelsDir = await resolveModelsOption(modelsArg, sitePaths(siteHome()).models);
    const models = await describeModelsFolder(modelsDir);
    const { phrases: vocabulary } = await vocabularyOption(ctx);
    const maxEps = numberOption(ctx, 'max-epsilon', undefined);
    const schedulerRaw = optionalString(ctx, 'scheduler');
    const scheduler = schedulerRaw === undefined ? undefined : SchedulerName.safeParse(schedulerRaw);
    if (scheduler && !scheduler.success)
      throw new UsageError(`--scheduler: unknown scheduler "${schedulerRaw}" (${SchedulerName.options.join(', ')})`);
    const manifest = buildStudyManifest({
      name,
      classes,
      models,
      k: intOption(ctx, 'k', 5, 1),
      maxEpsilon: maxEps ?? null,
      allowInstance: Boolean(ctx.values['allow-instance']),
      ...(modes ? { modes } : {}),
      vocabulary,
      ...(scheduler ? { scheduler: scheduler.data } : {}),
      ...(ctx.values['images-per-row'] !== undefined ? { imagesPerRow: intOption(ctx, 'images-per-row', 4, 1) } : {}),
    });
    await mkdir(dirname(resolve(out)), { recursive: true });
    await writeFile(out, JSON.stringify(manifest, null, 2) + '\n');
    if (models.tiny) ctx.out.warn('this study references generated tiny models: they prove the plumbing, never accuracy.');
    ctx.out.result({ studyId: manifest.id, file: out, manifest }, () =>
      [
        `Wrote study ${manifest.id} to ${out}`,
        `  classes   ${manifest.classes.join(', ')}`,
        `  encoder   ${manifest.encoder.id} (D=${manifest.encoder.dim}, sha256 ${manifest.encoder.sha256.slice(0, 12)}…)`,
        `  generator ${manifest.generator.scheduler}, ${manifest.generator.steps} steps, guidance ${manifest.generator.guidance}, ${manifest.generator.width}×${manifest.generator.height}`,
        `            (${schedulerRaw ? '--scheduler' : models.recipe.reason})`,
        `  privacy   k=${manifest.privacy.k}, instance rows ${manifest.privacy.allowInstance ? 'allowed' : 'not allowed'}, ε budget ${manifest.privacy.maxEpsilon ?? 'none'}`,
      ].join('\n'),
    );
  },
};
