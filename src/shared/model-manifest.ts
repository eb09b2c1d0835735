import { z } from 'zod';
import { ModelRef, Sha256Hex } from './model-ref';
import { TrainingSettings } from './study';

/** A relative path inside the model folder: no absolute paths, no `..`, no backslashes, no NUL. */
export const SafeRelativePath = z
  .string()
  .min(1)
  .max(255)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      !p.includes('\u0000') &&
      p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'),
    'file path must be relative and stay inside the model folder',
  );

export const ModelFile = z.object({
  path: SafeRelativePath,
  sha256: Sha256Hex,
  bytes: z.number().int().nonnegative(),
});
export type ModelFile = z.infer<typeof ModelFile>;

export const ClassMetrics = z.object({
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
  support: z.number().int().nonnegative(),
});

/**
 * manifest.json of a published global model. The server signs the exact bytes of this file
 * with Ed25519 (manifest.sig, base64); sites verify against the key pinned at enrollment.
 */
export const ModelManifest = z.object({
  schemaVersion: z.literal(1),
  studyId: z.string().min(1),
  /** Monotonic per study: sites refuse a version older than one they already accepted. */
  version: z.number().int().positive(),
  roundId: z.string().min(1),
  createdAt: z.iso.datetime(),
  classes: z.array(z.string()).min(2),
  kind: z.enum(['probe', 'cnn']),
  /** How inputs are prepared: probe = CLIP image embeddings (L2-normalised); cnn = pixels. */
  preprocessing: z.object({
    input: z.enum(['clip-image-embeds', 'pixels']),
    size: z.number().int().positive().optional(),
    mean: z.array(z.number()).length(3).optional(),
    std: z.array(z.number()).length(3).optional(),
    normalize: z.boolean().default(true),
  }),
  backbone: ModelRef.nullable(),
  training: TrainingSettings.extend({ backend: z.string(), samples: z.number().int().nonnegative() }),
  metrics: z.object({
    valAccuracy: z.number().min(0).max(1),
    valLoss: z.number(),
    valSamples: z.number().int().nonnegative(),
    epochs: z.number().int().nonnegative(),
  }),
  /** Every file of the model folder except manifest.json and manifest.sig. */
  files: z.array(ModelFile).min(1),
});
export type ModelManifest = z.infer<typeof ModelManifest>;

export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
