import type { Migration } from '../../../core/db/migrate-sqlite';

/**
 * Caption cache for instance prompts, keyed like the CLIP cache by (image content sha256,
 * captioner digest). Captioning is the slowest step; a rerun after a kill reuses them. The
 * caption is stored as the model wrote it (before the PHI scrub) and never leaves the site.
 */
export const migration002Captions: Migration = {
  version: 2,
  name: 'captions',
  sql: `
CREATE TABLE captions (
  content_sha256 TEXT NOT NULL,
  model_sha256 TEXT NOT NULL,
  caption TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (content_sha256, model_sha256)
) WITHOUT ROWID;
`,
};
