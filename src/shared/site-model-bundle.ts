import { z } from 'zod';
import { ModelFile } from './model-manifest';
import { Sha256Hex } from './model-ref';
import type { StudyManifest } from './study';

/**
 * The models a site runs (docs/architecture.md, "Models"): the conditioning encoder (byte for
 * byte the study's), CLIP, and the captioner when the study names one. The generator stays on
 * the server. A site gets them from its study server (`fgl site models fetch`) or a folder/USB
 * bundle (`fgl site models import`), verified against the study manifest's digests.
 */
export const SiteModelRole = z.enum(['encoder', 'clip', 'captioner']);
export type SiteModelRole = z.infer<typeof SiteModelRole>;

/** One site model the study server holds: its files, whose digest is the study's pin. */
export const SiteModelEntry = z.object({
  role: SiteModelRole,
  id: z.string(),
  revision: z.string(),
  /** The study manifest's digest for this model (digestOfHashes over `files`). */
  sha256: Sha256Hex,
  files: z.array(ModelFile).min(1).max(256),
});
export type SiteModelEntry = z.infer<typeof SiteModelEntry>;

/** GET /v1/studies/:id/site-models: what the server can hand out, and what it cannot (with why). */
export const SiteModelList = z.object({
  studyId: z.string(),
  models: z.array(SiteModelEntry),
  unavailable: z.array(z.object({ role: SiteModelRole, reason: z.string() })),
});
export type SiteModelList = z.infer<typeof SiteModelList>;

/** A model the study pins for sites: its role, id and digest (undefined when the study pins none). */
export type SiteModelPin = { role: SiteModelRole; id: string; revision: string; sha256: string | undefined };

/** The site models a study pins, in the order a site needs them. */
export function siteModelPins(study: StudyManifest): SiteModelPin[] {
  const pins: SiteModelPin[] = [
    { role: 'encoder', id: study.encoder.id, revision: study.encoder.revision, sha256: study.encoder.sha256 },
    { role: 'clip', id: study.clip.id, revision: study.clip.revision, sha256: study.clip.sha256 },
  ];
  if (study.captioner)
    pins.push({ role: 'captioner', id: study.captioner.id, revision: study.captioner.revision, sha256: study.captioner.sha256 });
  return pins;
}

/** What `models.siteFetch` / `models.siteImport` answer, and `fgl site models … --json` prints. */
export const SiteModelsInstall = z.object({
  studyId: z.string(),
  /** The installed models folder (encoder/, clip/, captioner/): Settings → models folder. */
  dir: z.string(),
  models: z.array(
    z.object({
      role: SiteModelRole,
      id: z.string(),
      sha256: Sha256Hex,
      files: z.number().int(),
      bytes: z.number().int(),
      /** already: the installed copy verified, nothing fetched; fetched / imported: new bytes installed. */
      source: z.enum(['already', 'fetched', 'imported']),
    }),
  ),
  /** Bytes transferred or copied by this call (a resumed file counts only its new bytes). */
  bytes: z.number().int(),
});
export type SiteModelsInstall = z.infer<typeof SiteModelsInstall>;
