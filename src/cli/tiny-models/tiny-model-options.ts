export type TinyModelPreset = 'tiny' | 'bench';

/** Everything that shapes the generated files; the same options always give byte-identical files. */
export type TinyModelOptions = {
  /** `tiny`: smallest shapes, for tests. `bench`: real SD 2 widths (D = 1024, 64×64 latents, wide convs) for timing. */
  preset: TinyModelPreset;
  /** Seed for every weight. */
  seed: number;
  /** CLIP projection dim P: `image_embeds` and `text_embeds` are [B, P] (real ViT-B/32: 512). */
  projectionDim: number;
  /** Generator text-encoder hidden size D: `last_hidden_state` is [B, 77, D] (SD 1.x: 768, SD 2.x: 1024). */
  textHiddenDim: number;
  /** Square input size of the CLIP and captioner image processors, in pixels; a multiple of 32. */
  imageSize: number;
  /** UNet latent side h = w; generated images are 8h × 8w pixels. */
  latentSize: number;
  /** UNet conv width. */
  unetChannels: number;
  /** Number of conv + cross-attention blocks in the UNet (more = more work per step). */
  unetBlocks: number;
  /** Emit the generator with float16 inputs/outputs (as `--fp16` diffusers exports) instead of float32. */
  fp16: boolean;
  /** UNet `timestep` input type: float (newer diffusers exports; float16 when fp16) or int64 (older exports). */
  timestepType: 'float' | 'int64';
};

export const TINY_PRESETS: Record<
  TinyModelPreset,
  Omit<TinyModelOptions, 'preset' | 'seed' | 'fp16' | 'timestepType'>
> = {
  tiny: {
    projectionDim: 32,
    textHiddenDim: 32,
    imageSize: 224,
    latentSize: 8,
    unetChannels: 16,
    unetBlocks: 1,
  },
  bench: {
    projectionDim: 512,
    textHiddenDim: 1024,
    imageSize: 224,
    latentSize: 64,
    unetChannels: 256,
    unetBlocks: 4,
  },
};

/** Fills in the preset's values and checks ranges; throws with the fix when an option is out of range. */
export function resolveTinyModelOptions(partial: Partial<TinyModelOptions> = {}): TinyModelOptions {
  const preset = partial.preset ?? 'tiny';
  if (!(preset in TINY_PRESETS))
    throw new Error(`Unknown tiny-model preset "${preset}": use "tiny" or "bench".`);
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const o: TinyModelOptions = {
    ...TINY_PRESETS[preset],
    seed: 0,
    fp16: false,
    timestepType: 'float',
    ...defined,
    preset,
  };
  const intIn = (name: keyof TinyModelOptions, min: number, max: number) => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new Error(
        `Tiny-model option ${name} must be an integer in [${min}, ${max}], got ${String(v)}.`,
      );
  };
  intIn('seed', 0, 0xffffffff);
  intIn('projectionDim', 4, 4096);
  intIn('textHiddenDim', 4, 4096);
  intIn('imageSize', 32, 1024);
  intIn('latentSize', 1, 256);
  intIn('unetChannels', 4, 1024);
  intIn('unetBlocks', 1, 32);
  if (o.imageSize % 32 !== 0)
    throw new Error(
      `Tiny-model imageSize must be a multiple of 32 (patch size), got ${o.imageSize}.`,
    );
  if (o.timestepType !== 'float' && o.timestepType !== 'int64')
    throw new Error(
      `Tiny-model timestepType must be "float" or "int64", got ${String(o.timestepType)}.`,
    );
  return o;
}
