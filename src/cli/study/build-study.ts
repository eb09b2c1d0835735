import { randomBytes } from 'node:crypto';
import { type PromptMode, StudyManifest, DEFAULT_CLASS_TEMPLATE, DEFAULT_INSTANCE_TEMPLATE, type SchedulerName } from '../../shared/study';
import type { ModelsFolder } from './models-folder';

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
  const dup = classes.find((c, i) => classes.indexOf(c) !== i);
  if (dup) throw new Error(`--classes names "${dup}" twice`);
  if (classes.length < 2) throw new Error('--classes needs at least two classes');
  return classes;
}

/**
 * A study manifest, the same schema the server serves. Tiny and mini models get a small, fast
 * generator setting (64×64, PNDM 20 steps); real models the paper's (PNDM 50 steps, guidance 2) unless
 * the generator is SD-Turbo, whose one-step path needs no guidance.
 */
export function buildStudyManifest(o: StudyOptions): StudyManifest {
  const turbo = !o.models.tiny && /turbo/i.test(o.models.generator.id);
  const scheduler = o.scheduler ?? (turbo ? 'turbo' : 'pndm');
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
      steps: o.steps ?? (scheduler === 'turbo' ? 1 : o.models.tiny || o.models.mini ? 20 : 50),
      guidance: o.guidance ?? (scheduler === 'turbo' ? 0 : 2),
      height: o.models.imageSize,
      width: o.models.imageSize,
      imagesPerRow: o.imagesPerRow ?? (o.models.tiny ? 4 : 8),
    },
    privacy: { k: o.k ?? 5, allowInstance: o.allowInstance ?? false, maxEpsilon: o.maxEpsilon ?? null },
    training: { kind: 'probe' },
  });
}
