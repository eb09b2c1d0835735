import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Key put in every config.json / model_index.json of a generated tiny model (`fgl models make-tiny`). */
export const TINY_MARKER_KEY = '_fgl_tiny';

/** The file whose tiny marker says whether a model folder holds a generated tiny model, per role. */
const MARKER_FILE = { clip: 'config.json', captioner: 'config.json', generator: 'model_index.json' } as const;

/** Whether the model in `dir` (of `role`) is a generated tiny model: the one way the marker is read. */
export async function isTinyModel(dir: string, role: keyof typeof MARKER_FILE): Promise<boolean> {
  try {
    const json = JSON.parse(await readFile(path.join(dir, MARKER_FILE[role]), 'utf8')) as unknown;
    return typeof json === 'object' && json !== null && TINY_MARKER_KEY in json;
  } catch {
    return false;
  }
}

/**
 * Whether a folder holds what a site runs: clip/ and the conditioning encoder (encoder/, or the
 * generator's own text encoder). The server needs generator/ as well; a site does not.
 */
export function hasSiteModels(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'clip')) &&
    (existsSync(path.join(dir, 'encoder', 'text_encoder', 'model.onnx')) || existsSync(path.join(dir, 'generator')))
  );
}

/** Where each model of a `--models DIR` folder is. */
export type LocatedModels = {
  clip: string;
  generator: string;
  captioner: string | null;
  /**
   * The conditioning encoder sites run: `DIR/encoder/` (text_encoder/ + tokenizer/, a CPU-portable
   * export of the generator's text encoder) when present, else the generator folder itself.
   */
  encoder: string;
  /** True when the generator (a site's folder without one: its CLIP) is a generated tiny model. */
  tiny: boolean;
};

/**
 * The models of a models folder (clip/, generator/, optional captioner/ and encoder/), without
 * hashing anything: sites only need the encoder's digest, which loading it computes anyway.
 */
export async function locateModelsFolder(dir: string): Promise<LocatedModels> {
  const generator = path.join(dir, 'generator');
  const encoder = path.join(dir, 'encoder');
  return {
    clip: path.join(dir, 'clip'),
    generator,
    captioner: existsSync(path.join(dir, 'captioner', 'config.json')) ? path.join(dir, 'captioner') : null,
    encoder: existsSync(path.join(encoder, 'text_encoder', 'model.onnx')) ? encoder : generator,
    // A site's models folder (fgl site models fetch|import) has no generator: its CLIP says.
    tiny: existsSync(path.join(generator, 'model_index.json')) ? await isTinyModel(generator, 'generator') : await isTinyModel(path.join(dir, 'clip'), 'clip'),
  };
}
