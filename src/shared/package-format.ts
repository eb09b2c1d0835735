import { z } from 'zod';
import { Aggregation, PromptMode } from './study';
import { Sha256Hex } from './model-ref';

/** Tensor names in an embedding package (docs/architecture.md, "Contracts"). */
export const PACKAGE_TENSORS = {
  conditioning: 'conditioning', // [N, 77, D] f16 | f32
  labels: 'labels', // [N] i32, index into the study's classes
  counts: 'counts', // [N] i32, privacy units (patients / distinct pictures) each row represents
} as const;

export const PACKAGE_FORMAT_VERSION = '1';

const intString = z.string().regex(/^\d+$/).transform(Number);
const optionalNum = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined || s === '') return null;
    const n = Number(s);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: 'expected a finite number' });
      return z.NEVER;
    }
    return n;
  });

/**
 * `__metadata__` of package.safetensors. safetensors metadata is a flat string→string map, so
 * every value is a string on disk; this schema parses it into typed values.
 */
export const PackageMetadata = z.object({
  format: z.literal('fgl-embedding-package'),
  format_version: z.literal(PACKAGE_FORMAT_VERSION),
  study_id: z.string().min(1).max(64),
  site_id: z.string().min(1).max(64),
  encoder_id: z.string().min(1).max(200),
  encoder_sha256: Sha256Hex,
  prompt_mode: PromptMode,
  aggregation: Aggregation,
  k: intString,
  /** What k and DP count: patients, distinct pictures (identical and near-duplicate files once), or both. */
  privacy_unit: z.enum(['patient', 'image', 'mixed']).optional(),
  dp_epsilon: optionalNum,
  dp_delta: optionalNum,
  dp_clip: optionalNum,
  dp_sigma: optionalNum,
  /** DP over the whole release (dp-release.ts): neighbouring datasets differ by one unit added or removed. */
  dp_adjacency: z.literal('add-remove-one-unit').optional(),
  /** The public threshold a bin's noisy count had to reach. */
  dp_threshold: optionalNum.optional(),
  /** sha256 of the study manifest the site prepared against (studyManifestCanonicalJson); the server recomputes it. */
  study_sha256: Sha256Hex.optional(),
  /** The singling-out threshold the site applied (≤ the study's). */
  singling_out_ratio: optionalNum.optional(),
  /** What the site did with captions that had PHI (instance prompts). */
  phi_action: z.enum(['redact', 'drop']).optional(),
  app_version: z.string().min(1).max(50),
  created_at: z.iso.datetime(),
});
export type PackageMetadata = z.output<typeof PackageMetadata>;
export type PackageMetadataStrings = z.input<typeof PackageMetadata>;

/** Turn typed metadata into the string map written to the file. */
export function metadataToStrings(m: PackageMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === null || v === undefined) continue;
    out[k] = String(v);
  }
  return out;
}

