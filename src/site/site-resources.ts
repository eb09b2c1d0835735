import { loadPhiNames } from './privacy/load-phi-names';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's resources/ folder (names list, vocabularies). A packaged app sets
 * FGL_RESOURCES_DIR to where electron-builder put them.
 */
export function resourcesDir(): string {
  return process.env.FGL_RESOURCES_DIR ?? fileURLToPath(new URL('../../resources/', import.meta.url));
}

/** The PHI scrub's person-name list shipped in resources/phi/names.txt. */
export function loadDefaultPhiNames(): Promise<Set<string>> {
  return loadPhiNames(join(resourcesDir(), 'phi', 'names.txt'));
}
