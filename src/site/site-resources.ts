import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's resources/ folder (names list, vocabularies). A packaged app sets
 * FGL_RESOURCES_DIR to where electron-builder put them.
 */
export function resourcesDir(): string {
  return process.env.FGL_RESOURCES_DIR ?? fileURLToPath(new URL('../../resources/', import.meta.url));
}

/** The PHI scrub's person-name list: lowercase, one per line, `#` comments. */
export async function loadPhiNames(file = join(resourcesDir(), 'phi', 'names.txt')): Promise<Set<string>> {
  const text = await readFile(file, 'utf8');
  return new Set(
    text
      .split(/\r?\n/)
      .map((l) => l.trim().toLowerCase())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}
