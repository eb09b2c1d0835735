/**
 * The site benchmark's inputs, generated once and reused: tiny models and sample image sets under
 * .fgl-tmp/bench-data (gitignored). A set is regenerated when its recipe changes.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeSampleData } from '../../src/cli/sample-data/make-sample-data';
import {
  makeTinyModels,
  readTinyModels,
  type TinyModels,
} from '../../src/cli/tiny-models/make-tiny-models';
import type { TinyModelOptions } from '../../src/cli/tiny-models/tiny-model-options';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BENCH_DATA_DIR = path.join(REPO_ROOT, '.fgl-tmp', 'bench-data');

export type ImageSetRecipe = { classes: number; perClass: number; size: number; seed: number };

/** Tiny models with the given options (preset `bench` by default), made once per option set. */
export async function ensureBenchModels(
  options: Partial<TinyModelOptions> = { preset: 'bench' },
): Promise<TinyModels> {
  const tag = Object.entries(options)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}-${String(v)}`)
    .join('_');
  const dir = path.join(BENCH_DATA_DIR, `models_${tag || 'default'}`);
  if (existsSync(path.join(dir, 'tiny-models.json'))) return readTinyModels(dir);
  return makeTinyModels(dir, { ...options, overwrite: true });
}

/** An ImageFolder of sample PNGs (`<dir>/<class>/<n>.png`); the recipe is kept beside it, not inside. */
export async function ensureImageSet(name: string, recipe: ImageSetRecipe): Promise<string> {
  const dir = path.join(BENCH_DATA_DIR, name);
  const recipeFile = `${dir}.recipe.json`;
  const want = JSON.stringify(recipe);
  const have = existsSync(recipeFile) ? await readFile(recipeFile, 'utf8') : null;
  if (have !== want || !existsSync(dir)) {
    await makeSampleData(dir, recipe);
    await writeFile(recipeFile, want);
  }
  return dir;
}

/** Every file under `dir`, sorted, as absolute paths. */
export async function listImages(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}
