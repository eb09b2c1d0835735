import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** A file under the repository's resources/ folder. */
export function resourcePath(rel: string): string {
  return fileURLToPath(new URL(`../../resources/${rel}`, import.meta.url));
}

/** A one-phrase-per-line list; `#` comments and blank lines ignored. */
export async function readPhraseList(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
