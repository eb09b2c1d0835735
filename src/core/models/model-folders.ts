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
  /** True when the generator is a generated tiny model. */
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
    tiny: await isTinyModel(generator, 'generator'),
  };
}
