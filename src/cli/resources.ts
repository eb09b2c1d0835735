import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './repo-root';
import { optionalString, UsageError, type CommandContext } from './command';

/** A file under the repository's resources/ folder. */
export function resourcePath(rel: string): string {
  return join(REPO_ROOT, 'resources', rel);
}

/** A one-phrase-per-line list; `#` comments and blank lines ignored. */
export async function readPhraseList(file: string): Promise<string[]> {
  return (await readFile(file, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The reviewed controlled vocabularies shipped in resources/vocabulary/, by name. */
export function vocabularyNames(): string[] {
  return readdirSync(resourcePath('vocabulary'))
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** What a study gets without --vocabulary: plain descriptions of photographs, not colours and shapes. */
export const DEFAULT_VOCABULARY = 'general-photos';

/** `--vocabulary` of a command, as a usage error with the choices when it names nothing. */
export async function vocabularyOption(ctx: CommandContext): Promise<{ name: string; phrases: string[] }> {
  try {
    return await readVocabulary(optionalString(ctx, 'vocabulary'));
  } catch (e) {
    throw new UsageError((e as Error).message, (e as { hint?: string }).hint);
  }
}

/**
 * `--vocabulary NAME|FILE`: a shipped list by name (radiology, dermatology, …) or a reviewed file
 * of one's own; anything else is refused with the names there are.
 */
export async function readVocabulary(arg: string | undefined): Promise<{ name: string; phrases: string[] }> {
  const value = arg ?? DEFAULT_VOCABULARY;
  const names = vocabularyNames();
  if (names.includes(value)) return { name: value, phrases: await readPhraseList(resourcePath(`vocabulary/${value}.txt`)) };
  if (existsSync(value)) return { name: value, phrases: await readPhraseList(value) };
  throw Object.assign(new Error(`--vocabulary "${value}" is neither a vocabulary of FGL nor a file.`), {
    hint: `Choose one of ${names.join(', ')}, or give a file with one reviewed phrase per line.`,
  });
}
