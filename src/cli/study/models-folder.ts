import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelRef } from '../../shared/model-ref';
import type { EncoderRef } from '../../shared/study';
import { encoderDigest, modelDigest } from '../../core/models/model-digest';
import { makeTinyModels } from '../tiny-models/make-tiny-models';
import { resourcePath } from '../resources';

/** Hub ids of the real default models (DESIGN.md, "Models"). */
export const DEFAULT_MODEL_IDS = {
  clip: 'Xenova/clip-vit-base-patch32',
  captioner: 'Xenova/vit-gpt2-image-captioning',
  generator: 'onnxruntime/sd-turbo',
} as const;

/** The ids tiny models are published under in a study: plainly not real models. */
export const TINY_MODEL_IDS = {
  clip: 'fgl-tiny/clip',
  captioner: 'fgl-tiny/captioner',
  generator: 'fgl-tiny/generator',
} as const;

/** The ids the mini bundle (resources/mini-models, trained on Fashion-MNIST) is published under. */
export const MINI_MODEL_IDS = {
  clip: 'fgl-mini/clip',
  captioner: 'fgl-mini/captioner',
  generator: 'fgl-mini/generator',
} as const;

/** The committed mini foundation bundle (tools/mini-models/train.py; Fashion-MNIST train split). */
export const MINI_MODELS_DIR = resourcePath('mini-models');

export type ModelsFolder = {
  dir: string;
  tiny: boolean;
  /** The mini bundle: small models trained on Fashion-MNIST, a stand-in for CLIP + SD with real (if small) skill. */
  mini: boolean;
  clip: ModelRef & { dir: string };
  captioner: (ModelRef & { dir: string }) | null;
  generator: ModelRef & { dir: string };
  encoder: EncoderRef;
  /** Native image side of the generator (UNet sample_size × 8), e.g. 512 for SD 2.1 base. */
  imageSize: number;
};

/**
 * `--models tiny|mini|DIR`: `tiny` generates the deterministic tiny models once under `cacheDir`
 * (same bytes on every machine, so sites and server agree on digests); `mini` is the committed
 * mini bundle (resources/mini-models); a DIR holds `clip/`, `captioner/` (optional) and `generator/`.
 */
export async function resolveModelsOption(value: string, cacheDir: string): Promise<string> {
  if (value === 'mini') {
    if (!existsSync(join(MINI_MODELS_DIR, 'generator', 'model_index.json')))
      throw Object.assign(new Error(`The mini models are missing from ${MINI_MODELS_DIR}`), {
        hint: 'They are committed with the repository: restore them with git (git checkout -- resources/mini-models), or retrain them (tools/mini-models/README.md).',
      });
    return MINI_MODELS_DIR;
  }
  if (value === 'tiny') {
    const dir = join(cacheDir, 'fgl-tiny');
    if (!existsSync(join(dir, 'generator', 'model_index.json'))) await makeTinyModels(dir);
    return dir;
  }
  const dir = resolve(value);
  if (!existsSync(join(dir, 'clip')) || !existsSync(join(dir, 'generator')))
    throw Object.assign(
      new Error(
        `${dir} is not a models folder: it needs clip/ and generator/ (and optionally captioner/)`,
      ),
      {
        hint: 'Use --models tiny for generated test models, or copy real model folders there (see README, "Models").',
      },
    );
  return dir;
}

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * Where the models of a folder are and whether they are the tiny test models, without hashing
 * anything (a real generator is gigabytes; sites only need the encoder's digest, which loading
 * the text encoder computes anyway).
 */
export async function locateModelsFolder(
  dir: string,
): Promise<{ clip: string; generator: string; captioner: string | null; tiny: boolean }> {
  const index = await readJson(join(dir, 'generator', 'model_index.json'));
  return {
    clip: join(dir, 'clip'),
    generator: join(dir, 'generator'),
    captioner: existsSync(join(dir, 'captioner', 'config.json')) ? join(dir, 'captioner') : null,
    tiny: Boolean(index && '_fgl_tiny' in index),
  };
}

/** Digests, ids and the encoder's D for every model in a models folder. */
export async function describeModelsFolder(dir: string): Promise<ModelsFolder> {
  const index = await readJson(join(dir, 'generator', 'model_index.json'));
  const tiny = Boolean(index && '_fgl_tiny' in index);
  const mini = Boolean(index && '_fgl_mini' in index);
  const ids = tiny
    ? TINY_MODEL_IDS
    : mini
      ? MINI_MODEL_IDS
      : { clip: `local/clip`, captioner: `local/captioner`, generator: `local/generator` };
  const textConfig = await readJson(join(dir, 'generator', 'text_encoder', 'config.json'));
  const dim = Number(textConfig?.hidden_size);
  if (!Number.isInteger(dim) || dim <= 0)
    throw new Error(
      `${join(dir, 'generator', 'text_encoder', 'config.json')} has no hidden_size: cannot tell the encoder's D`,
    );
  const unetConfig = await readJson(join(dir, 'generator', 'unet', 'config.json'));
  const sampleSize = Number(unetConfig?.sample_size);
  const hasCaptioner = existsSync(join(dir, 'captioner', 'config.json'));
  const gen = join(dir, 'generator');
  return {
    dir,
    tiny,
    mini,
    clip: {
      id: ids.clip,
      revision: 'main',
      sha256: await modelDigest(join(dir, 'clip'), 'clip'),
      dir: join(dir, 'clip'),
    },
    captioner: hasCaptioner
      ? {
          id: ids.captioner,
          revision: 'main',
          sha256: await modelDigest(join(dir, 'captioner'), 'captioner'),
          dir: join(dir, 'captioner'),
        }
      : null,
    generator: {
      id: ids.generator,
      revision: 'main',
      sha256: await modelDigest(gen, 'generator'),
      dir: gen,
    },
    encoder: {
      id: ids.generator,
      revision: 'main',
      sha256: await encoderDigest(gen),
      dim,
      maxLength: 77,
    },
    imageSize: Number.isInteger(sampleSize) && sampleSize > 0 ? sampleSize * 8 : 512,
  };
}
