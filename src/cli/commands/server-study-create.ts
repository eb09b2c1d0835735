import { vocabularyOption } from '../resources';
import {
  type Command,
  intOption,
  numberOption,
  optionalString,
  requireString,
  UsageError,
} from '../command';
import { PromptMode } from '../../shared/study';
import { buildStudyManifest, parseClassList } from '../study/build-study';
import { resolveServerModels } from './server-models';
import { openCommandStore, STORE_OPTION } from './server-store-option';

export const serverStudyCreateCommand: Command = {
  path: ['server', 'study', 'create'],
  summary: 'create a study in a server data dir (classes, models with digests, privacy floor)',
  description: `
Creates a study directly in the server's data directory (no HTTP; the admin endpoint
POST /v1/studies does the same). The conditioning encoder, CLIP and generator references and
their sha256 digests come from the models folder, so every site must hold exactly those bytes.
--models tiny generates the deterministic tiny models into <data>/models-tiny (plumbing only).
Prints the new study id; next: \`fgl server site enroll --study ID --name SITE\`.`,
  options: {
    'data-dir': { type: 'string', value: 'DIR', description: 'server data directory' },
    store: STORE_OPTION,
    name: { type: 'string', value: 'NAME', description: 'human-readable study name' },
    classes: { type: 'string', value: 'a,b,c', description: 'comma-separated class names' },
    vocabulary: {
      type: 'string',
      value: 'NAME|FILE',
      description:
        'controlled vocabulary for `vocabulary` prompts: radiology, dermatology, pathology, ophthalmology, general-photos (default), shapes (the demo), or a FILE of reviewed phrases',
    },
    k: {
      type: 'string',
      value: 'N',
      default: '5',
      description: 'minimum images behind every package row',
    },
    'max-epsilon': {
      type: 'string',
      value: 'E',
      description: 'DP budget ε sites must stay under (omit: DP optional)',
    },
    'allow-instance': {
      type: 'boolean',
      description: 'accept one row per image (weaker privacy; off by default)',
    },
    modes: {
      type: 'string',
      value: 'class,vocabulary,instance',
      description: 'prompt modes sites may use',
    },
    models: {
      type: 'string',
      value: 'tiny|DIR',
      default: 'tiny',
      description: 'models the study references',
    },
  },
  examples: [
    'fgl server study create --data-dir ./server-data --name "Skin lesions" --classes nevus,melanoma --vocabulary dermatology --k 5 --models tiny',
    'fgl server study create --data-dir /srv/fgl --name "Chest X-ray" --classes normal,pneumonia --vocabulary radiology --models DIR',
  ],
  async run(ctx) {
    const dataDir = requireString(ctx, 'data-dir');
    let classes: string[];
    try {
      classes = parseClassList(requireString(ctx, 'classes'));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const modes = optionalString(ctx, 'modes')
      ?.split(',')
      .map((m) => {
        const p = PromptMode.safeParse(m.trim());
        if (!p.success)
          throw new UsageError(`--modes: unknown prompt mode "${m}" (class, instance, vocabulary)`);
        return p.data;
      });
    const vocabulary = await vocabularyOption(ctx);
    const models = await resolveServerModels(dataDir, optionalString(ctx, 'models') ?? 'tiny');
    const manifest = buildStudyManifest({
      name: requireString(ctx, 'name'),
      classes,
      models,
      k: intOption(ctx, 'k', 5, 1),
      maxEpsilon: numberOption(ctx, 'max-epsilon', undefined) ?? null,
      allowInstance: Boolean(ctx.values['allow-instance']),
      ...(modes ? { modes } : {}),
      // The controlled vocabulary for `vocabulary` prompts: only these phrases can leave a site.
      vocabulary: vocabulary.phrases,
    });
    const store = await openCommandStore(ctx, dataDir);
    try {
      await store.studies.insert(manifest);
    } finally {
      await store.close();
    }
    if (models.tiny)
      ctx.out.warn(
        'this study references generated tiny models: they prove the plumbing, never accuracy.',
      );
    ctx.out.result({ studyId: manifest.id, vocabulary: vocabulary.name, manifest }, () =>
      [
        `Created study ${manifest.id}`,
        `  classes  ${manifest.classes.join(', ')}`,
        `  vocabulary ${vocabulary.name} (${vocabulary.phrases.length} phrases)`,
        `  encoder  ${manifest.encoder.id} (D=${manifest.encoder.dim}, sha256 ${manifest.encoder.sha256.slice(0, 12)}…)`,
        `  privacy  k=${manifest.privacy.k}, instance rows ${manifest.privacy.allowInstance ? 'allowed' : 'not allowed'}, ε ≤ ${manifest.privacy.maxEpsilon ?? 'no DP required'}`,
        `Next: fgl server site enroll --data-dir ${dataDir} --study ${manifest.id} --name SITE`,
      ].join('\n'),
    );
  },
};
