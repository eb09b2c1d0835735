import { z } from 'zod';

export const Sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256 (64 characters)');

/**
 * A model named portably: a hub id (+ revision) that every site and the server resolve in their
 * own cache or local models folder. `sha256` is the model's digest (see src/core/models): sites
 * must hold exactly these bytes.
 */
export const ModelRef = z.object({
  id: z.string().min(1).max(200).regex(/^[\w.@/-]+$/, 'model id: letters, digits, . _ - / @ only'),
  revision: z.string().min(1).max(100).default('main'),
  sha256: Sha256Hex.optional(),
});
export type ModelRef = z.infer<typeof ModelRef>;

/** The roles a model folder plays; a `--models DIR` folder has one subfolder per role. */
export const ModelRole = z.enum(['clip', 'captioner', 'generator']);
export type ModelRole = z.infer<typeof ModelRole>;
