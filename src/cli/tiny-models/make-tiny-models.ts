import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { jsonBytes } from './model-folder';
import { publishedFiles } from './published-layouts';
import { tinyCaptionerFiles } from './tiny-captioner';
import { tinyClipFiles } from './tiny-clip';
import { tinyGeneratorFiles } from './tiny-generator';
import { type TinyModelOptions, layoutFor, resolveTinyModelOptions } from './tiny-model-options';

/** Written at the root of every tiny-model folder: the options used and each file's size and sha256. */
export const TINY_MODELS_MANIFEST = 'tiny-models.json';

export type TinyModelFile = {
  /** Relative to the root, with `/` separators, e.g. `clip/onnx/vision_model.onnx`. */
  path: string;
  bytes: number;
  sha256: string;
};

export type TinyModels = {
  /** Absolute path of the folder holding the three models. */
  root: string;
  options: TinyModelOptions;
  /** Absolute paths: a transformers.js CLIP folder, a transformers.js image-to-text folder, a diffusers-ONNX folder. */
  dirs: { clip: string; captioner: string; generator: string };
  /** Every file but the manifest, sorted by path. */
  files: TinyModelFile[];
  totalBytes: number;
};

export type MakeTinyModelsOptions = Partial<TinyModelOptions> & {
  /** Replace `outDir` if it already holds files (default: refuse). */
  overwrite?: boolean;
};

type Manifest = { format: 1; note: string; options: TinyModelOptions; files: TinyModelFile[] };

function describe(root: string, options: TinyModelOptions, files: TinyModelFile[]): TinyModels {
  return {
    root,
    options,
    dirs: {
      clip: join(root, 'clip'),
      captioner: join(root, 'captioner'),
      generator: join(root, 'generator'),
    },
    files,
    totalBytes: files.reduce((s, f) => s + f.bytes, 0),
  };
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * rename(2) replaces an empty folder on POSIX but not on Windows; there, remove the empty folder
 * first. Never deletes anything non-empty: a concurrent writer that got there first wins, and the
 * caller sees ENOTEMPTY/EEXIST.
 */
async function renameOntoEmpty(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
    if (await isNonEmptyDir(to)) throw err;
    await rmdir(to);
    await rename(from, to);
  }
}

/** Builds every model in memory; pure apart from CPU time (bench: a few seconds, ~60 MB). */
export function tinyModelFiles(options: TinyModelOptions): Map<string, Uint8Array> {
  const all = new Map<string, Uint8Array>();
  for (const [folder, files] of [
    ['clip', publishedFiles(layoutFor(options, 'clip'), tinyClipFiles(options))],
    ['captioner', publishedFiles(layoutFor(options, 'captioner'), tinyCaptionerFiles(options))],
    ['generator', tinyGeneratorFiles(options)],
  ] as const) {
    for (const [path, bytes] of files) all.set(`${folder}/${path}`, bytes);
  }
  return all;
}

/**
 * Writes the tiny CLIP, captioner and generator under `outDir` (as `clip/`, `captioner/`,
 * `generator/` plus `tiny-models.json`). Files are written into a temporary sibling folder that is
 * then renamed into place, so a reader never sees a half-written set. Same options ⇒ identical bytes.
 */
export async function makeTinyModels(
  outDir: string,
  options: MakeTinyModelsOptions = {},
): Promise<TinyModels> {
  const { overwrite = false, ...rest } = options;
  const resolved = resolveTinyModelOptions(rest);
  const root = resolve(outDir);
  if (!overwrite && (await isNonEmptyDir(root))) {
    throw Object.assign(
      new Error(
        `${root} already exists and is not empty; choose another folder or overwrite it (--force).`,
      ),
      { code: 'EEXIST' },
    );
  }

  const contents = tinyModelFiles(resolved);
  const files: TinyModelFile[] = [...contents]
    .map(([path, bytes]) => ({
      path,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: Manifest = {
    format: 1,
    note: 'Tiny deterministic models for plumbing tests (fgl models make-tiny). Their outputs mean nothing.',
    options: resolved,
    files,
  };

  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${root}.tmp-${tag}`;
  try {
    for (const [path, bytes] of contents) {
      const target = join(tmp, ...path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
    await writeFile(join(tmp, TINY_MODELS_MANIFEST), jsonBytes(manifest));
    await mkdir(dirname(root), { recursive: true });
    if (overwrite && (await isNonEmptyDir(root))) {
      // Only reached with overwrite: move the old folder aside first so the swap is two renames.
      const old = `${root}.old-${tag}`;
      await rename(root, old);
      await rename(tmp, root);
      await rm(old, { recursive: true, force: true });
    } else {
      await renameOntoEmpty(tmp, root);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return describe(root, resolved, files);
}

/** Reads a folder written by makeTinyModels (throws if it has no manifest). */
export async function readTinyModels(dir: string): Promise<TinyModels> {
  const root = resolve(dir);
  const manifest = JSON.parse(await readFile(join(root, TINY_MODELS_MANIFEST), 'utf8')) as Manifest;
  if (manifest.format !== 1)
    throw new Error(
      `${join(root, TINY_MODELS_MANIFEST)}: unknown format ${String(manifest.format)}; regenerate with \`fgl models make-tiny\`.`,
    );
  return describe(root, manifest.options, manifest.files);
}
