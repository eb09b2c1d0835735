/**
 * Adapter: reads the PHI names list (resources/phi/names.txt) for `scrubPhi`.
 * One name per line; blank lines and lines starting with # are ignored.
 */
import { readFile } from 'node:fs/promises';

/** Parse the list's text into the lowercase, diacritic-free set `scrubPhi` expects. */
export function parsePhiNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    names.add(t.normalize('NFD').replace(/\p{M}/gu, '').replace(/’/g, "'").toLowerCase());
  }
  return names;
}

/** Read the names list at `path`; throws with the path when it cannot be read. */
export async function loadPhiNames(path: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(
      `Cannot read the PHI names list at ${path}: ${(e as Error).message}. Reinstall the app or point to resources/phi/names.txt.`,
      {
        cause: e,
      },
    );
  }
  const names = parsePhiNames(text);
  // Why refuse: an empty list would silently disable name scrubbing.
  if (names.size === 0)
    throw new Error(
      `The PHI names list at ${path} is empty; name scrubbing would be disabled. Restore resources/phi/names.txt.`,
    );
  return names;
}
