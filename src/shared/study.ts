import { z } from 'zod';
import { sameClassPair } from './class-names';
import { ModelRef, Sha256Hex } from './model-ref';

export const PromptMode = z.enum(['class', 'instance', 'vocabulary']);
export type PromptMode = z.infer<typeof PromptMode>;

export const Aggregation = z.enum(['instance', 'cluster', 'class']);
export type Aggregation = z.infer<typeof Aggregation>;

export const SchedulerName = z.enum(['pndm', 'ddim', 'euler', 'euler-ancestral', 'turbo']);
export type SchedulerName = z.infer<typeof SchedulerName>;

const ClassName = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => s.trim() === s && !/[\u0000-\u001f]/.test(s), 'class names: no control characters or outer spaces');

/**
 * The privacy floor a study sets. Sites may be stricter (larger k, smaller ε, smaller ratio,
 * disallow instance rows), never looser: see `looserThan`.
 */
export const PrivacyPolicy = z.object({
  /** Every outgoing row must represent at least k images (cluster/class aggregation). */
  k: z.number().int().min(1).max(10_000),
  /** Whether one-row-per-image packages are acceptable at all. */
  allowInstance: z.boolean().default(false),
  /** Cumulative ε budget per dataset; null = DP not required (but still accounted if used). */
  maxEpsilon: z.number().positive().nullable(),
  delta: z.number().positive().lt(1).default(1e-5),
  /** Singling-out test: a row is blocked when sim(nearest) / sim(k-th nearest) exceeds this. */
  singlingOutRatio: z.number().min(1).max(10).default(1.25),
  /**
   * PHI in captions: drop the whole caption (the default: a redacted caption still carries what
   * the scrub missed next to what it found), or redact only the matches (a study's explicit choice).
   */
  phiAction: z.enum(['redact', 'drop']).default('drop'),
});
export type PrivacyPolicy = z.infer<typeof PrivacyPolicy>;

/** The generator text encoder every site must run, byte for byte. */
export const EncoderRef = z.object({
  id: z.string().min(1),
  revision: z.string().default('main'),
  /** Digest of text_encoder/model.onnx + tokenizer files (src/core/models digest). */
  sha256: Sha256Hex,
  /** Hidden size D of last_hidden_state [77, D]. */
  dim: z.number().int().positive().max(8192),
  maxLength: z.literal(77).default(77),
});
export type EncoderRef = z.infer<typeof EncoderRef>;

export const GeneratorSettings = z.object({
  model: ModelRef,
  scheduler: SchedulerName.default('pndm'),
  steps: z.number().int().min(1).max(1000).default(50),
  guidance: z.number().min(0).max(50).default(2),
  height: z.number().int().min(8).max(2048).multipleOf(8).default(512),
  width: z.number().int().min(8).max(2048).multipleOf(8).default(512),
  imagesPerRow: z.number().int().min(1).max(10_000).default(4),
  negativePrompt: z.string().max(1000).default('low quality, low resolution'),
});
export type GeneratorSettings = z.infer<typeof GeneratorSettings>;

export const TrainingSettings = z.object({
  kind: z.enum(['probe', 'cnn']).default('probe'),
  epochs: z.number().int().min(1).max(1000).default(100),
  batchSize: z.number().int().min(1).max(4096).default(64),
  learningRate: z.number().positive().default(0.01),
  validationSplit: z.number().min(0.05).max(0.5).default(0.2),
  patience: z.number().int().min(1).default(10),
  seed: z.number().int().default(0),
});
export type TrainingSettings = z.infer<typeof TrainingSettings>;

export const StudyManifest = z.object({
  schemaVersion: z.literal(1),
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'study id: lowercase letters, digits and -'),
  name: z.string().min(1).max(200),
  createdAt: z.iso.datetime(),
  classes: z
    .array(ClassName)
    .min(2)
    .max(1000)
    .superRefine((a, ctx) => {
      // One rule with prepare and evaluate (class-names.ts): `Normal` and `normal` are one class.
      const pair = sameClassPair(a);
      if (pair)
        ctx.addIssue({
          code: 'custom',
          message:
            pair[0] === pair[1]
              ? `class names must be unique: "${pair[0]}" is given twice`
              : `class names must be unique ignoring case, spaces, "_" and "-": "${pair[0]}" and "${pair[1]}" are the same class`,
        });
    }),
  prompts: z.object({
    /** Templates with `{class}`; class-level prompts use each of them. */
    templates: z.array(z.string().includes('{class}').max(500)).min(1).max(100),
    /** `{class}` and `{caption}`, for instance-level prompts. */
    instanceTemplate: z.string().includes('{caption}').max(500),
    modes: z.array(PromptMode).min(1),
    /** Controlled vocabulary for `vocabulary` prompts: no free text leaves a site. */
    vocabulary: z.array(z.string().min(1).max(100)).max(10_000).default([]),
  }),
  encoder: EncoderRef,
  clip: ModelRef,
  captioner: ModelRef.nullable(),
  generator: GeneratorSettings,
  privacy: PrivacyPolicy,
  training: TrainingSettings,
});
export type StudyManifest = z.infer<typeof StudyManifest>;
export type StudyManifestInput = z.input<typeof StudyManifest>;

/** The paper's prompts (docs/architecture.md, "The method"). */
export const DEFAULT_CLASS_TEMPLATE = '{class}, real world images, high resolution';
export const DEFAULT_INSTANCE_TEMPLATE = '{class}, {caption}, real world images, high resolution.';

/**
 * A site policy is acceptable only if it is at least as strict as the study's on every axis.
 * Returns the axes on which `site` is looser (empty = acceptable).
 */
export function looserThan(site: PrivacyPolicy, study: PrivacyPolicy): string[] {
  const looser: string[] = [];
  if (site.k < study.k) looser.push(`k ${site.k} < study's ${study.k}`);
  if (site.allowInstance && !study.allowInstance) looser.push('instance rows allowed but the study forbids them');
  if (study.maxEpsilon !== null && (site.maxEpsilon === null || site.maxEpsilon > study.maxEpsilon))
    looser.push(`ε budget ${site.maxEpsilon ?? '∞'} > study's ${study.maxEpsilon}`);
  if (site.delta > study.delta) looser.push(`δ ${site.delta} > study's ${study.delta}`);
  if (site.singlingOutRatio > study.singlingOutRatio)
    looser.push(`singling-out ratio ${site.singlingOutRatio} > study's ${study.singlingOutRatio}`);
  if (site.phiAction === 'redact' && study.phiAction === 'drop') looser.push('PHI redacted but the study requires drop');
  return looser;
}

/**
 * The study manifest as canonical JSON (keys sorted at every level, no spaces): what its sha256
 * in a package header (`study_sha256`) is computed over, by the site and again by the server.
 */
export function studyManifestCanonicalJson(study: StudyManifest): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(canon(study));
}
