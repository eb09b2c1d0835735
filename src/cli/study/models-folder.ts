import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelRef } from '../../shared/model-ref';
import type { EncoderRef } from '../../shared/study';
import { loadTextEncoder } from '../../core/inference/text-encoder';
import { generatorImageSize } from '../../core/models/generator-geometry';
import { modelDigest } from '../../core/models/model-digest';
import {
  type SamplingRecipe,
  recipeFromSchedulerConfig,
} from '../../server/synthesis/schedulers/sampling-recipe';
import { makeTinyModels } from '../tiny-models/make-tiny-models';

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

export type ModelsFolder = {
  dir: string;
  tiny: boolean;
  clip: ModelRef & { dir: string };
  captioner: (ModelRef & { dir: string }) | null;
  generator: ModelRef & { dir: string };
  encoder: EncoderRef;
  /** Native image side of the generator (UNet sample_size × 8, or the graph's sample shape × 8, else 512). */
  imageSize: number;
  /** Sampling recipe the generator's scheduler_config.json calls for (turbo for Euler + trailing). */
  recipe: SamplingRecipe;
};

/**
 * `--models tiny|DIR`: `tiny` generates the deterministic tiny models once under `cacheDir`
 * (same bytes on every machine, so sites and server agree on digests); a DIR holds `clip/`,
 * `captioner/` (optional) and `generator/`.
 */
export async function resolveModelsOption(value: string, cacheDir: string): Promise<string> {
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

/**
 * Digests, ids, the encoder's D, the image size and the sampling recipe for every model in a models
 * folder. Nothing here needs a submodel config.json (published Olive exports have none): D comes
 * from the text encoder graph (declared output shape, else one test encode, on CPU as sites run
 * it), the size from the UNet, the recipe from scheduler/scheduler_config.json.
 */
export async function describeModelsFolder(dir: string): Promise<ModelsFolder> {
  const index = await readJson(join(dir, 'generator', 'model_index.json'));
  const tiny = Boolean(index && '_fgl_tiny' in index);
  const ids = tiny
    ? TINY_MODEL_IDS
    : { clip: `local/clip`, captioner: `local/captioner`, generator: `local/generator` };
  const gen = join(dir, 'generator');
  const encoder = await loadTextEncoder(gen, { device: 'cpu' });
  const { dim, digest: encoderSha256 } = encoder;
  await encoder.dispose();
  const schedulerFile = join(gen, 'scheduler', 'scheduler_config.json');
  const schedulerJson = await readJson(schedulerFile);
  if (schedulerJson === null)
    throw new Error(`${schedulerFile} is missing or not JSON: copy the complete generator folder.`);
  const recipe = recipeFromSchedulerConfig(schedulerJson, schedulerFile);
  const hasCaptioner = existsSync(join(dir, 'captioner', 'config.json'));
  return {
    dir,
    tiny,
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
      sha256: encoderSha256,
      dim,
      maxLength: 77,
    },
    imageSize: (await generatorImageSize(gen)).size,
    recipe,
  };
}
