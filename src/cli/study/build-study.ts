import { randomBytes } from 'node:crypto';
import { type PromptMode, StudyManifest, DEFAULT_CLASS_TEMPLATE, DEFAULT_INSTANCE_TEMPLATE, type SchedulerName } from '../../shared/study';
import { PAPER_RECIPE } from '../../server/synthesis/schedulers/sampling-recipe';
import type { ModelsFolder } from './models-folder';
import { sameClassPair } from '../../shared/class-names';

export type StudyOptions = {
  name: string;
  classes: string[];
  models: ModelsFolder;
  id?: string;
  k?: number;
  maxEpsilon?: number | null;
  allowInstance?: boolean;
  modes?: PromptMode[];
  vocabulary?: string[];
  scheduler?: SchedulerName;
  steps?: number;
  guidance?: number;
  imagesPerRow?: number;
};

export function studyIdFromName(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'study';
  return `${slug}-${randomBytes(3).toString('hex')}`;
}

/** Split `a,b,c`, trimming; refuses empties and duplicates with the offending name. */
export function parseClassList(s: string): string[] {
  const classes = s.split(',').map((c) => c.trim());
  if (classes.some((c) => c === '')) throw new Error('--classes has an empty name (two commas in a row?)');
  const pair = sameClassPair(classes);
  if (pair)
    throw new Error(
      pair[0] === pair[1]
        ? `--classes names "${pair[0]}" twice`
        : `--classes names "${pair[0]}" and "${pair[1]}", which are the same class (names are compared ignoring case, spaces, "_" and "-"): keep one`,
    );
  if (classes.length < 2) throw new Error('--classes needs at least two classes');
  return classes;
}

/**
 * A study manifest, the same schema the server serves. The sampling recipe is the one the
 * generator's scheduler_config.json calls for (models.recipe): the paper's (PNDM 50 steps,
 * guidance 2) for PNDM/DDIM configs, one guidance-free step without a negative prompt for a
 * turbo (Euler, trailing) config, whatever the model is called. Tiny and mini models run 20 steps
 * instead of 50, for speed; the mini bundle samples without a negative prompt (see below).
 */
export function buildStudyManifest(o: StudyOptions): StudyManifest {
  const scheduler = o.scheduler ?? o.models.recipe.scheduler;
  // An explicit scheduler other than the config's own takes the paper's steps and guidance.
  const recipe = scheduler === o.models.recipe.scheduler ? o.models.recipe : PAPER_RECIPE;
  const turbo = scheduler === 'turbo';
  return StudyManifest.parse({
    schemaVersion: 1,
    id: o.id ?? studyIdFromName(o.name),
    name: o.name,
    createdAt: new Date().toISOString(),
    classes: o.classes,
    prompts: {
      templates: [DEFAULT_CLASS_TEMPLATE],
      instanceTemplate: DEFAULT_INSTANCE_TEMPLATE,
      modes: o.modes ?? ['class', 'vocabulary', 'instance'],
      vocabulary: o.vocabulary ?? [],
    },
    encoder: o.models.encoder,
    clip: { id: o.models.clip.id, revision: o.models.clip.revision, sha256: o.models.clip.sha256 },
    captioner: o.models.captioner ? { id: o.models.captioner.id, revision: o.models.captioner.revision, sha256: o.models.captioner.sha256 } : null,
    generator: {
      model: { id: o.models.generator.id, revision: o.models.generator.revision, sha256: o.models.generator.sha256 },
      scheduler,
      steps: o.steps ?? (turbo ? 1 : o.models.tiny || o.models.mini ? 20 : recipe.steps),
      guidance: o.guidance ?? (turbo ? 0 : recipe.guidance),
      // The mini generator's conditioning head learned only the empty prompt as its unconditional
      // input; the studies' usual negative prompt cost FGL 0–5 points on the probe and 2–21 on the
      // CNN in `fgl experiment paper --quick` (docs/experiments.md, "Negative prompt").
      negativePrompt: turbo || o.models.mini ? '' : recipe.negativePrompt,
      height: o.models.imageSize,
      width: o.models.imageSize,
      imagesPerRow: o.imagesPerRow ?? (o.models.tiny ? 4 : 8),
    },
    privacy: { k: o.k ?? 5, allowInstance: o.allowInstance ?? false, maxEpsilon: o.maxEpsilon ?? null },
    training: { kind: 'probe' },
  });
}
