import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * CLIP image features are now computed from images decoded straight to CLIP's input side (224)
 * instead of 256 then resized: embeddings move by up to ~3e-4. The cache key (content, model
 * digest) does not say how an image was decoded, so old entries are dropped and recomputed
 * rather than mixed with new ones.
 */
export const migration004ClipDecode224: Migration = {
  version: 4,
  name: 'clip-decode-224',
  sql: `DELETE FROM clip_embeddings;`,
};
