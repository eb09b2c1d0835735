/**
 * CLIP image preprocessing in one pass: transformers.js's own resize (same sharp call, same
 * resampling) and center crop, then rescale + normalise + HWC→CHW written straight into one
 * preallocated batch buffer. transformers.js does the last steps in two float passes, a generic
 * `Tensor.permute` and a `stack` copy, which cost as much as a small vision model.
 *
 * The values are bit-identical to CLIPImageProcessor's: input pixels are 8-bit, so every
 * output value comes from a 256-entry table per channel computed with the processor's own
 * float32 rounding (rescale, store, normalise, store).
 */
import type { RawImage } from '@huggingface/transformers';
import { type RgbImage, toRawImage } from './rgb-image';

/** Image processor classes whose `preprocess` is the base one reproduced here (transformers.js 4.x). */
const BASE_PREPROCESS_TYPES = new Set([
  'CLIPImageProcessor',
  'CLIPFeatureExtractor',
  'ImageProcessor',
]);

/** The fields of preprocessor_config.json this module reads (the rest must be absent or off). */
export type PreprocessorConfig = {
  image_processor_type?: string;
  feature_extractor_type?: string;
  do_resize?: boolean;
  size?:
    number | { shortest_edge?: number; longest_edge?: number; width?: number; height?: number };
  image_size?: PreprocessorConfig['size'];
  max_size?: number;
  resample?: number | string;
  do_center_crop?: boolean;
  crop_size?: number | { width: number; height: number };
  do_rescale?: boolean;
  rescale_factor?: number;
  do_normalize?: boolean;
  image_mean?: number | number[];
  image_std?: number | number[];
  mean?: number | number[];
  std?: number | number[];
  [other: string]: unknown;
};

type ResizeRule =
  | { kind: 'edges'; shortest?: number; longest?: number }
  | { kind: 'fixed'; width: number; height: number };

export type ClipImagePreprocessor = {
  /** Output [height, width] of every image (the crop size, or the fixed resize size). */
  height: number;
  width: number;
  /** The short side to decode images at so that the resize step is a no-op. */
  inputSize: number;
  /**
   * pixel_values for a batch: one Float32Array [B, 3, height, width], CHW. Written into `into`
   * (its first B·3·height·width values) when it is given and large enough, else a new array.
   */
  pixelValues(
    images: readonly RgbImage[],
    into?: Float32Array,
  ): Promise<{ data: Float32Array; dims: [number, number, number, number] }>;
};

const isPositiveInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;

function perChannel(v: number | number[] | undefined): [number, number, number] | null {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number'))
    return [v[0]!, v[1]!, v[2]!];
  return null;
}

/** The short side a CLIP processor resizes to (224 for ViT-B/32); a decode hint, also for configs we do not reproduce. */
export function clipInputSize(config: PreprocessorConfig): number {
  const size = config.size ?? config.image_size;
  if (isPositiveInt(size)) return size;
  if (size && isPositiveInt(size.shortest_edge)) return size.shortest_edge;
  if (size && isPositiveInt(size.width) && isPositiveInt(size.height))
    return Math.min(size.width, size.height);
  const crop = config.crop_size;
  if (isPositiveInt(crop)) return crop;
  if (crop && isPositiveInt(crop.width) && isPositiveInt(crop.height))
    return Math.min(crop.width, crop.height);
  return 224;
}

/**
 * (width, height) after resizing, exactly as transformers.js ImageProcessor.get_resize_output_image_size
 * computes it for the rules reproduced here (including its 2-decimal rounding, then floor).
 */
export function resizeOutputSize(
  rule: ResizeRule,
  srcWidth: number,
  srcHeight: number,
): [number, number] {
  if (rule.kind === 'fixed') return [rule.width, rule.height];
  const short =
    rule.shortest === undefined ? 1 : Math.max(rule.shortest / srcWidth, rule.shortest / srcHeight);
  const w = srcWidth * short;
  const h = srcHeight * short;
  const long = rule.longest === undefined ? 1 : Math.min(rule.longest / w, rule.longest / h);
  return [Math.floor(Number((w * long).toFixed(2))), Math.floor(Number((h * long).toFixed(2)))];
}

/** 3×256 output values, [c·256 + level], with the processor's float32 rounding after each step. */
function valueTable(
  rescale: number | null,
  mean: readonly number[] | null,
  std: readonly number[] | null,
): Float32Array {
  const lut = new Float32Array(3 * 256);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      let x = rescale === null ? v : f(rescale * v);
      if (mean && std) x = f((x - mean[c]!) / std[c]!);
      lut[c * 256 + v] = x;
    }
  }
  return lut;
}

/**
 * A one-pass preprocessor for this config, or null when the config uses a step this module does
 * not reproduce (thumbnail, padding, channel flip, size divisibility, crop margin, a processor
 * class with its own preprocess, or a per-image output size): the caller then uses transformers.js's.
 */
export function createClipImagePreprocessor(
  config: PreprocessorConfig,
): ClipImagePreprocessor | null {
  const type = (
    config.image_processor_type ??
    config.feature_extractor_type ??
    'ImageProcessor'
  ).replace(/Fast$/, '');
  if (!BASE_PREPROCESS_TYPES.has(type)) return null;
  const unsupported = [
    'do_thumbnail',
    'do_pad',
    'do_flip_channel_order',
    'do_crop_margin',
    'size_divisibility',
    'size_divisor',
  ];
  if (unsupported.some((k) => config[k] !== undefined && config[k] !== false && config[k] !== null))
    return null;

  const size = config.size ?? config.image_size;
  const doResize = config.do_resize ?? size !== undefined;
  let rule: ResizeRule | null = null;
  if (doResize) {
    if (isPositiveInt(size)) {
      rule = {
        kind: 'edges',
        shortest: size,
        longest: isPositiveInt(config.max_size) ? config.max_size : size,
      };
    } else if (size && (size.shortest_edge !== undefined || size.longest_edge !== undefined)) {
      if (size.shortest_edge !== undefined && !isPositiveInt(size.shortest_edge)) return null;
      if (size.longest_edge !== undefined && !isPositiveInt(size.longest_edge)) return null;
      rule = {
        kind: 'edges',
        ...(size.shortest_edge !== undefined ? { shortest: size.shortest_edge } : {}),
        ...(size.longest_edge !== undefined ? { longest: size.longest_edge } : {}),
      };
    } else if (size && isPositiveInt(size.width) && isPositiveInt(size.height)) {
      if (config.keep_aspect_ratio && config.ensure_multiple_of) return null;
      rule = { kind: 'fixed', width: size.width, height: size.height };
    } else return null;
  }

  let crop: { width: number; height: number } | null = null;
  if (config.do_center_crop) {
    const c = config.crop_size;
    if (isPositiveInt(c)) crop = { width: c, height: c };
    else if (c && isPositiveInt(c.width) && isPositiveInt(c.height))
      crop = { width: c.width, height: c.height };
    else return null;
  }
  // Without a crop or a fixed resize, images keep their own sizes and cannot form one batch tensor.
  const out = crop ?? (rule?.kind === 'fixed' ? { width: rule.width, height: rule.height } : null);
  if (!out) return null;

  const doRescale = config.do_rescale ?? true;
  const rescale = doRescale ? (config.rescale_factor ?? 1 / 255) : null;
  let mean: [number, number, number] | null = null;
  let std: [number, number, number] | null = null;
  if (config.do_normalize) {
    mean = perChannel(config.image_mean ?? config.mean);
    std = perChannel(config.image_std ?? config.std);
    if (!mean || !std) return null;
  }
  if (rescale !== null && typeof rescale !== 'number') return null;
  const lut = valueTable(rescale, mean, std);
  const resample = config.resample ?? 2;
  const { width: W, height: H } = out;
  const plane = W * H;

  /**
   * The image after the processor's resize, and where the output window starts in it: source
   * pixel (x + offX, y + offY) lands at output (x, y). The center crop is that window, read in place.
   */
  async function resized(
    img: RgbImage,
  ): Promise<{
    data: ArrayLike<number>;
    width: number;
    height: number;
    offX: number;
    offY: number;
  }> {
    let raw: RawImage = toRawImage(img);
    if (rule) {
      const [w, h] = resizeOutputSize(rule, raw.width, raw.height);
      raw = await raw.resize(w, h, { resample: resample as 0 });
    }
    if (raw.channels !== 3)
      throw new Error(
        `Resizing gave ${raw.channels} channels, expected 3 (RGB); report this with the image size ${img.width}×${img.height}.`,
      );
    // RawImage.center_crop's offsets: floor of the half difference, on whichever side is larger.
    const offset = (have: number, want: number) => {
      const d = (have - want) / 2;
      return d >= 0 ? Math.floor(d) : -Math.floor(-d);
    };
    const offX = crop ? offset(raw.width, W) : 0;
    const offY = crop ? offset(raw.height, H) : 0;
    return { data: raw.data, width: raw.width, height: raw.height, offX, offY };
  }

  return {
    height: H,
    width: W,
    inputSize: clipInputSize(config),
    async pixelValues(images, into) {
      const ready = await Promise.all(images.map(resized));
      const size = images.length * 3 * plane;
      const data = into && into.length >= size ? into.subarray(0, size) : new Float32Array(size);
      ready.forEach((img, b) => {
        const src = img.data;
        const base = b * 3 * plane;
        // A crop larger than the image pads with black (level 0), as the processor's sharp `extend` does.
        const x0 = Math.max(0, -img.offX);
        const x1 = Math.min(W, img.width - img.offX);
        const y0 = Math.max(0, -img.offY);
        const y1 = Math.min(H, img.height - img.offY);
        if (x0 > 0 || y0 > 0 || x1 < W || y1 < H) {
          for (let c = 0; c < 3; c++)
            data.fill(lut[c * 256]!, base + c * plane, base + (c + 1) * plane);
        }
        for (let y = y0; y < y1; y++) {
          let s = ((img.offY + y) * img.width + img.offX + x0) * 3;
          let d = base + y * W + x0;
          const end = base + y * W + x1;
          for (; d < end; d++, s += 3) {
            data[d] = lut[src[s]!]!;
            data[d + plane] = lut[256 + src[s + 1]!]!;
            data[d + 2 * plane] = lut[512 + src[s + 2]!]!;
          }
        }
      });
      return { data, dims: [images.length, 3, H, W] };
    },
  };
}
