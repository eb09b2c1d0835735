export type TinyModelPreset = 'tiny' | 'bench';

/**
 * Published exports the tiny models can imitate, file set and quirks included (docs/models.md).
 * Each names one role; a role not named keeps FGL's own layout (`fgl`).
 */
export const TINY_LAYOUTS = {
  'olive-sd-turbo': 'generator',
  'optimum-sd21': 'generator',
  'xenova-clip': 'clip',
  'xenova-vit-gpt2': 'captioner',
} as const;
export type TinyLayout = keyof typeof TINY_LAYOUTS;
export type TinyLayoutRole = (typeof TINY_LAYOUTS)[TinyLayout];

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
  /** Published layouts to write (at most one per role), e.g. ['olive-sd-turbo']; [] = FGL's own. */
  layouts: TinyLayout[];
};

/** The published layout `o` asks for `role`, or null for FGL's own. */
export function layoutFor(o: Pick<TinyModelOptions, 'layouts'>, role: TinyLayoutRole): TinyLayout | null {
  return o.layouts.find((l) => TINY_LAYOUTS[l] === role) ?? null;
}

/** Parses `--layout a,b`: known names only, at most one per role. */
export function parseTinyLayouts(value: string | readonly string[]): TinyLayout[] {
  const names = (typeof value === 'string' ? value.split(',') : [...value]).map((s) => s.trim()).filter((s) => s !== '' && s !== 'fgl');
  const known = Object.keys(TINY_LAYOUTS);
  const out: TinyLayout[] = [];
  for (const n of names) {
    if (!known.includes(n))
      throw new Error(`Unknown model layout "${n}": use fgl or one of ${known.join(', ')} (comma-separated, one per model).`);
    const layout = n as TinyLayout;
    const clash = out.find((l) => TINY_LAYOUTS[l] === TINY_LAYOUTS[layout]);
    if (clash) throw new Error(`Layouts ${clash} and ${layout} are both ${TINY_LAYOUTS[layout]} layouts: name one per model.`);
    if (!out.includes(layout)) out.push(layout);
  }
  return out.sort();
}

export const TINY_PRESETS: Record<
  TinyModelPreset,
  Omit<TinyModelOptions, 'preset' | 'seed' | 'fp16' | 'timestepType' | 'layouts'>
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
    layouts: parseTinyLayouts(partial.layouts ?? []),
  };
  // A published layout fixes what its export has: Olive's sd-turbo is float16 with a float16
  // timestep; optimum's SD 2.1 export is float32 with a float timestep.
  const generatorLayout = layoutFor(o, 'generator');
  if (generatorLayout !== null) {
    o.fp16 = generatorLayout === 'olive-sd-turbo';
    o.timestepType = 'float';
  }
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
