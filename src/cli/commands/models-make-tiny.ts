import { type Command, UsageError, intOption, requireString } from '../command';
import { makeTinyModels } from '../tiny-models/make-tiny-models';
import {
  type TinyLayout,
  type TinyModelPreset,
  parseTinyLayouts,
} from '../tiny-models/tiny-model-options';

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export const modelsMakeTinyCommand: Command = {
  path: ['models', 'make-tiny'],
  summary: 'Write deterministic tiny CLIP, captioner and generator models for tests and demos',
  description: [
    'Writes three model folders with the same layout, file names, tensor names, dtypes and ranks as the',
    'real models, filled with seeded random weights, so every loader and pipeline can run end to end',
    'without downloading anything:',
    '',
    '  DIR/clip/        transformers.js CLIP (like Xenova/clip-vit-base-patch32): onnx/text_model.onnx,',
    '                   onnx/vision_model.onnx, tokenizer, preprocessor. Colour words embed near',
    '                   images of that colour; everything else is arbitrary.',
    '  DIR/captioner/   transformers.js image-to-text (like Xenova/vit-gpt2-image-captioning):',
    '                   captions read "a plain red image" from the mean colour and texture.',
    '  DIR/generator/   diffusers ONNX Stable Diffusion (model_index.json, text_encoder/, unet/,',
    '                   vae_decoder/, tokenizer/, scheduler/ with SD 2.1 base PNDM settings).',
    "  DIR/tiny-models.json   the options used and every file's size and sha256.",
    '',
    'The same options always produce byte-identical files. Tiny models prove plumbing, never',
    'accuracy: any number computed with them means nothing. Every config.json carries a "_fgl_tiny"',
    'key so reports can say so.',
    '',
    '--layout writes a model in the exact file set and quirks of a published export instead (docs/models.md):',
    '  olive-sd-turbo    generator as onnxruntime/sd-turbo: no config.json, slow tokenizer files with object',
    '                    special tokens, fp16 I/O, Euler trailing scheduler, vae_encoder/',
    '  optimum-sd21      generator as an optimum export of SD 2.1 base: unet/model.onnx_data, PNDM',
    '  xenova-clip       clip as Xenova/clip-vit-base-patch32, with its quantized/fp16 variants',
    '  xenova-vit-gpt2   captioner as Xenova/vit-gpt2-image-captioning, with its other decoders',
    '',
    'Presets: "tiny" (default; D = 32, 8×8 latents → 64×64 images, loads in milliseconds) and "bench"',
    '(SD 2 widths: D = 1024, 64×64 latents → 512×512 images, 256-channel UNet; for timing runs).',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: 'DIR',
      description: 'Folder to create (must not exist or be empty, unless --force)',
    },
    preset: {
      type: 'string',
      value: 'NAME',
      description: 'tiny (default) or bench (compute-realistic sizes)',
    },
    dim: {
      type: 'string',
      value: 'D',
      description:
        "Generator text-encoder width D: conditioning is [N, 77, D] (preset's default: 32 / 1024)",
    },
    seed: {
      type: 'string',
      value: 'S',
      description: 'Weight seed, a non-negative integer (default 0)',
    },
    fp16: {
      type: 'boolean',
      description: 'Give the generator float16 inputs and outputs, like an fp16 ONNX export',
    },
    timestep: {
      type: 'string',
      value: 'TYPE',
      description:
        'UNet timestep input type: float (default, newer exports) or int64 (older exports)',
    },
    layout: {
      type: 'string',
      value: 'NAMES',
      description:
        'Write models in a published export\'s exact file set and quirks (comma-separated, one per model): ' +
        'olive-sd-turbo or optimum-sd21 (generator), xenova-clip (clip), xenova-vit-gpt2 (captioner); ' +
        'default fgl (our own layout). See docs/models.md',
    },
    force: { type: 'boolean', description: 'Replace DIR if it already holds files' },
  },
  examples: [
    'fgl models make-tiny --out ./models/tiny',
    'fgl models make-tiny --out ./models/bench --preset bench',
    'fgl models make-tiny --out /tmp/tiny16 --fp16 --dim 768 --json',
    'fgl models make-tiny --out /tmp/published --layout olive-sd-turbo,xenova-clip,xenova-vit-gpt2',
  ],
  async run(ctx) {
    const out = requireString(ctx, 'out');
    const preset = (ctx.values.preset ?? 'tiny') as string;
    if (preset !== 'tiny' && preset !== 'bench')
      throw new UsageError(`--preset must be "tiny" or "bench", got "${preset}"`);
    const timestep = (ctx.values.timestep ?? 'float') as string;
    if (timestep !== 'float' && timestep !== 'int64')
      throw new UsageError(`--timestep must be "float" or "int64", got "${timestep}"`);
    const dim = ctx.values.dim === undefined ? undefined : intOption(ctx, 'dim', 0, 4);
    const seed = intOption(ctx, 'seed', 0, 0);
    let layouts: TinyLayout[];
    try {
      layouts = parseTinyLayouts((ctx.values.layout ?? '') as string);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }

    ctx.out.info(`Writing ${preset} models to ${out} …`);
    let models;
    try {
      models = await makeTinyModels(out, {
        preset: preset as TinyModelPreset,
        seed,
        textHiddenDim: dim,
        fp16: ctx.values.fp16 === true,
        timestepType: timestep,
        layouts,
        overwrite: ctx.values.force === true,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new UsageError((err as Error).message, 'add --force to replace it');
      throw err;
    }

    const sizeOf = (prefix: string) =>
      models.files.filter((f) => f.path.startsWith(prefix)).reduce((s, f) => s + f.bytes, 0);
    ctx.out.result(
      {
        root: models.root,
        options: models.options,
        dirs: models.dirs,
        totalBytes: models.totalBytes,
        files: models.files,
      },
      () =>
        [
          `Wrote tiny models (${models.options.preset}, seed ${models.options.seed}` +
            `${models.options.layouts.length > 0 ? `, layouts ${models.options.layouts.join(', ')}` : ''}) to ${models.root}:`,
          `  clip       ${models.dirs.clip}  (${formatBytes(sizeOf('clip/'))})`,
          `  captioner  ${models.dirs.captioner}  (${formatBytes(sizeOf('captioner/'))})`,
          `  generator  ${models.dirs.generator}  (${formatBytes(sizeOf('generator/'))}; D = ${models.options.textHiddenDim}, ` +
            `${models.options.latentSize * 8}×${models.options.latentSize * 8} images${models.options.fp16 ? ', float16 I/O' : ''})`,
          '',
          'These models prove plumbing, never accuracy: numbers computed with them mean nothing.',
          'Point a study or `fgl` command at these folders wherever it takes a local model folder.',
        ].join('\n'),
    );
  },
};
