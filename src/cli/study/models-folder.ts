import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelRef } from '../../shared/model-ref';
import type { EncoderRef } from '../../shared/study';
import { loadTextEncoder } from '../../core/inference/text-encoder';
import { generatorImageSize } from '../../core/models/generator-geometry';
import { hasSiteModels, locateModelsFolder } from '../../core/models/model-folders';
import { NeedsCudaError } from '../../core/ort/execution-device';
import { modelDigest } from '../../core/models/model-digest';
import {
  type SamplingRecipe,
  recipeFromSchedulerConfig,
} from '../../server/synthesis/schedulers/sampling-recipe';
import { makeTinyModels } from '../tiny-models/make-tiny-models';
import { resourcePath } from '../resources';

/** Hub ids of the real default models (docs/architecture.md, "Models"). */
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
  encoder: 'fgl-tiny/encoder',
} as const;

/** The ids the mini bundle (resources/mini-models, trained on Fashion-MNIST) is published under. */
export const MINI_MODEL_IDS = {
  clip: 'fgl-mini/clip',
  captioner: 'fgl-mini/captioner',
  generator: 'fgl-mini/generator',
  encoder: 'fgl-mini/encoder',
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
  /** The conditioning encoder: `encoder/` when the folder has one, else the generator's own text encoder. */
  encoder: EncoderRef;
  encoderDir: string;
  /** Native image side of the generator (UNet sample_size × 8, or the graph's sample shape × 8, else 512). */
  imageSize: number;
  /** Sampling recipe the generator's scheduler_config.json calls for (turbo for Euler + trailing). */
  recipe: SamplingRecipe;
};

/**
 * `--models tiny|mini|DIR`: `tiny` generates the deterministic tiny models once under `cacheDir`
 * (same bytes on every machine, so sites and server agree on digests); `mini` is the committed
 * mini bundle (resources/mini-models); a DIR holds `clip/`, `captioner/` (optional) and `generator/`
 * (for a site, `site: true`, `encoder/` in place of `generator/` is enough).
 */
export async function resolveModelsOption(value: string, cacheDir: string, o: { site?: boolean } = {}): Promise<string> {
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
  // A site runs CLIP and the conditioning encoder only: `fgl site models fetch|import` installs no generator.
  if (o.site && hasSiteModels(dir)) return dir;
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
 * Digests, ids, the encoder's D, the image size and the sampling recipe for every model in a models
 * folder. Nothing here needs a submodel config.json (published Olive exports have none): D comes
 * from the text encoder graph (declared output shape, else one test encode, on CPU as sites run
 * it), the size from the UNet, the recipe from scheduler/scheduler_config.json.
 */
export async function describeModelsFolder(dir: string): Promise<ModelsFolder> {
  const located = await locateModelsFolder(dir);
  const tiny = located.tiny;
  const gen = located.generator;
  const index = await readJson(join(gen, 'model_index.json'));
  const mini = Boolean(index && '_fgl_mini' in index);
  const ids = tiny
    ? TINY_MODEL_IDS
    : mini
      ? MINI_MODEL_IDS
      : { clip: `local/clip`, captioner: `local/captioner`, generator: `local/generator`, encoder: 'local/encoder' };
  // The encoder sites run, loaded on CPU as they load it: a CUDA-only export is refused here, saying so.
  const encoder = await loadTextEncoder(located.encoder, { device: 'cpu' }).catch((err: unknown) => {
    if (err instanceof NeedsCudaError && located.encoder === gen)
      throw Object.assign(err, {
        hint: `Sites run the conditioning encoder on CPU: put a CPU-portable export of this text encoder in ${join(dir, 'encoder')} (text_encoder/model.onnx + tokenizer/), and the study will name it apart from the UNet.`,
      });
    throw err;
  });
  const { dim, digest: encoderSha256 } = encoder;
  await encoder.dispose();
  const schedulerFile = join(gen, 'scheduler', 'scheduler_config.json');
  const schedulerJson = await readJson(schedulerFile);
  if (schedulerJson === null)
    throw new Error(`${schedulerFile} is missing or not JSON: copy the complete generator folder.`);
  const recipe = recipeFromSchedulerConfig(schedulerJson, schedulerFile);
  const hasCaptioner = located.captioner !== null;
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
    encoderDir: located.encoder,
    encoder: {
      // Named apart from the UNet when the folder has its own (CPU-portable) encoder/.
      id: located.encoder === gen ? ids.generator : ids.encoder,
      revision: 'main',
      sha256: encoderSha256,
      dim,
      maxLength: 77,
    },
    imageSize: (await generatorImageSize(gen)).size,
    recipe,
  };
}
