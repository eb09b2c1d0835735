import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type TinyModels,
  makeTinyModels,
  readTinyModels,
} from '../../src/cli/tiny-models/make-tiny-models';
import {
  type TinyModelOptions,
  resolveTinyModelOptions,
} from '../../src/cli/tiny-models/tiny-model-options';

export type { TinyModels } from '../../src/cli/tiny-models/make-tiny-models';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const generatorSources = join(repoRoot, 'src', 'cli', 'tiny-models');
const cacheRoot = join(repoRoot, '.fgl-tmp');

// Hash the generator's own source too, so editing it invalidates every cached folder.
function cacheKey(options: TinyModelOptions): string {
  const h = createHash('sha256').update(JSON.stringify(options));
  // Files only: real-size/ (the real-size generators) is a folder beside them.
  for (const e of readdirSync(generatorSources, { withFileTypes: true })
    .filter((x) => x.isFile())
    .sort((a, b) => (a.name < b.name ? -1 : 1)))
    h.update(e.name).update(readFileSync(join(generatorSources, e.name)));
  return h.digest('hex').slice(0, 16);
}

const inProcess = new Map<string, Promise<TinyModels>>();

async function generateOrReuse(dir: string, options: TinyModelOptions): Promise<TinyModels> {
  try {
    return await readTinyModels(dir);
  } catch {
    // Not there yet: build it.
  }
  try {
    return await makeTinyModels(dir, options);
  } catch (err) {
    // Another vitest worker renamed its copy into place first: use the winner's.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EPERM') return readTinyModels(dir);
    throw err;
  }
}

/**
 * The tiny CLIP / captioner / generator folders for these options, generated once per option set
 * (and generator source) into `.fgl-tmp/tiny-models-<hash>/` and reused by later tests and runs.
 * Safe when several test processes ask at once: each builds into a temporary sibling and renames.
 */
export function getTinyModels(options: Partial<TinyModelOptions> = {}): Promise<TinyModels> {
  const resolved = resolveTinyModelOptions(options);
  const key = cacheKey(resolved);
  let pending = inProcess.get(key);
  if (!pending) {
    pending = generateOrReuse(join(cacheRoot, `tiny-models-${key}`), resolved);
    inProcess.set(key, pending);
    pending.catch(() => inProcess.delete(key));
  }
  return pending;
}
