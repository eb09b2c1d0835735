import { z } from 'zod';
import { Sha256Hex } from '../../shared/model-ref';

/**
 * The JSON sidecar `<row>-<index>.json` beside each synthetic PNG. It is written after the PNG
 * (temp file + rename), so a sidecar on disk means its image is complete; training reads the
 * label from it.
 */
export const SynthesizedImageRecord = z.object({
  schemaVersion: z.literal(1),
  study: z.string().min(1),
  packageSha256: Sha256Hex,
  row: z.number().int().nonnegative(),
  /** Index into the study's classes. */
  label: z.number().int().nonnegative(),
  className: z.string().optional(),
  index: z.number().int().nonnegative(),
  seed: z.number().int().nonnegative(),
  scheduler: z.string(),
  steps: z.number().int().positive(),
  guidance: z.number().nonnegative(),
  height: z.number().int().positive(),
  width: z.number().int().positive(),
  negativePrompt: z.string(),
  /** Digest of the generator folder (core model-digest, role generator). */
  modelDigest: Sha256Hex,
  /** ORT provider it ran on: GPU and CPU results differ in the last bits. */
  device: z.string(),
  png: z.object({ file: z.string(), bytes: z.number().int().positive(), sha256: Sha256Hex }),
});
export type SynthesizedImageRecord = z.infer<typeof SynthesizedImageRecord>;
