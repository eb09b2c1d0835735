import { join } from 'node:path';
import type { SiteModelRole } from '../../shared/site-model-bundle';
import { type FileHash, digestOfHashes, hashFiles, presentFiles } from './model-digest';
import { ENCODER_FILES, MODEL_LAYOUTS, layoutFiles } from './model-layouts';
import { locateModelsFolder } from './model-folders';

/**
 * The files of one site model, relative to its folder: the same lists its study digest is
 * computed over (the encoder's as the text encoder loads it, CLIP's and the captioner's as
 * modelDigest does), so a digest over what is listed here is the study's pin.
 */
export function siteModelFiles(role: SiteModelRole): readonly string[] {
  return role === 'encoder' ? ENCODER_FILES : layoutFiles(role);
}

/** Files a site model cannot load without. */
export function requiredSiteModelFiles(role: SiteModelRole): readonly string[] {
  return role === 'encoder' ? ['text_encoder/model.onnx'] : MODEL_LAYOUTS[role].required;
}

/** A site model folder's files with their sha256 and size, and their digest (the study's pin when it is the right model). */
export async function describeSiteModel(dir: string, role: SiteModelRole): Promise<{ sha256: string; files: FileHash[] }> {
  const present = await presentFiles(dir, siteModelFiles(role));
  const missing = requiredSiteModelFiles(role).filter((f) => !present.includes(f));
  if (missing.length > 0)
    throw Object.assign(new Error(`The ${role} model folder ${dir} is missing ${missing.join(', ')}.`), {
      code: 'site_models_incomplete',
      hint: 'Copy the complete model folder there (hub layout), or get the models from the study server.',
    });
  const files = await hashFiles(dir, present);
  return { sha256: digestOfHashes(files), files };
}

/**
 * Where each site model of a models folder is: `encoder/` (else the generator's text encoder),
 * `clip/`, `captioner/` (null when absent). The layout `fgl site models fetch|import` installs, and
 * any `--models DIR` folder.
 */
export async function siteModelDirs(dir: string): Promise<Record<SiteModelRole, string | null>> {
  const located = await locateModelsFolder(dir);
  return { encoder: located.encoder, clip: located.clip, captioner: located.captioner };
}

/** The folder a role is installed in, inside an installed site models folder. */
export function installedRoleDir(dir: string, role: SiteModelRole): string {
  return join(dir, role);
}
