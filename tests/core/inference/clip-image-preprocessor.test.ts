import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLIPImageProcessor,
  CLIPVisionModelWithProjection,
  Tensor,
} from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PreprocessorConfig,
  clipInputSize,
  createClipImagePreprocessor,
} from '../../../src/core/inference/clip-image-preprocessor';
import { type ClipModel, loadClip } from '../../../src/core/inference/clip-model';
import { normalizeEmbedding as l2Normalize, splitRows } from '../../../src/core/inference/embedding-rows';
import { type RgbImage, toRawImage } from '../../../src/core/inference/rgb-image';
import { type TinyModels, getTinyModels } from '../../helpers/tiny-models';

/** Seeded noise plus a gradient: every resampling kernel gives a different result on it. */
function noisyImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const px = Math.floor(i / 3);
    data[i] = ((s >>> 24) + ((px % width) * 255) / width + (i % 3) * 40) % 256;
  }
  return { data, width, height, channels: 3 };
}

// Square, already at size, upscaled, landscape, portrait, odd crop offsets, very wide.
const SIZES: [number, number][] = [
  [224, 224],
  [256, 256],
  [100, 70],
  [300, 200],
  [200, 300],
  [225, 224],
  [224, 299],
  [500, 150],
];
const images = SIZES.map(([w, h], i) => noisyImage(w, h, i + 1));

/** Index and size of the first difference, or null when the arrays are bit-identical. */
function firstDifference(a: Float32Array, b: Float32Array): string | null {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i])) return `index ${i}: ${a[i]} vs ${b[i]}`;
  return null;
}

async function reference(config: PreprocessorConfig, batch: readonly RgbImage[]) {
  const processor = new CLIPImageProcessor(
    config as ConstructorParameters<typeof CLIPImageProcessor>[0],
  );
  const out = (await processor(batch.map(toRawImage))) as { pixel_values: Tensor };
  return { data: out.pixel_values.data as Float32Array, dims: out.pixel_values.dims };
}

let tiny: TinyModels;
let config: PreprocessorConfig;

beforeAll(async () => {
  tiny = await getTinyModels();
  config = JSON.parse(
    await readFile(join(tiny.dirs.clip, 'preprocessor_config.json'), 'utf8'),
  ) as PreprocessorConfig;
}, 120_000);

describe('createClipImagePreprocessor: same pixel_values as transformers.js CLIPImageProcessor', () => {
  it('is bit-identical for the CLIP config (bicubic shortest-edge resize + center crop) at every size and aspect', async () => {
    const fast = createClipImagePreprocessor(config)!;
    expect(fast).not.toBeNull();
    expect(fast.inputSize).toBe(224);
    const ours = await fast.pixelValues(images);
    const ref = await reference(config, images);
    expect(ours.dims).toEqual(ref.dims);
    expect(firstDifference(ours.data, ref.data)).toBeNull();
  });

  const variants: [string, PreprocessorConfig, RgbImage[]][] = [
    [
      'no normalisation, no rescale',
      { do_normalize: false, do_rescale: false },
      images.slice(0, 3),
    ],
    [
      'scalar mean/std and bilinear',
      { image_mean: 0.5, image_std: 0.25, resample: 2 },
      images.slice(2, 5),
    ],
    ['integer size (longest edge capped at it)', { size: 200, crop_size: 120 }, images.slice(0, 4)],
    [
      'fixed width × height, no crop',
      { size: { width: 160, height: 96 }, do_center_crop: false },
      images.slice(1, 4),
    ],
    [
      'crop larger than the image (black padding)',
      { do_resize: false, crop_size: { width: 240, height: 260 } },
      [images[0]!, images[2]!],
    ],
    [
      'shortest + longest edge',
      { size: { shortest_edge: 224, longest_edge: 400 } },
      images.slice(3, 7),
    ],
  ];
  for (const [name, over, batch] of variants) {
    it(`is bit-identical with ${name}`, async () => {
      const c = { ...config, ...over };
      const fast = createClipImagePreprocessor(c);
      expect(fast).not.toBeNull();
      const ours = await fast!.pixelValues(batch);
      const ref = await reference(c, batch);
      expect(ours.dims).toEqual(ref.dims);
      expect(firstDifference(ours.data, ref.data)).toBeNull();
    });
  }

  it('pads a crop that is partly outside the image with black, as a crop of the black-padded image', async () => {
    // transformers.js 4.3's RawImage.center_crop throws on this case (sharp extracts before it extends);
    // the processor's intent is the padded crop, built here by padding first.
    const c = { ...config, do_resize: false, crop_size: { width: 180, height: 180 } };
    const img = noisyImage(100, 300, 9); // 40 px of black on each side, rows 60..239
    const padded = new Uint8Array(180 * 300 * 3);
    for (let y = 0; y < 300; y++)
      padded.set(img.data.subarray(y * 300, (y + 1) * 300), (y * 180 + 40) * 3);
    const ours = await createClipImagePreprocessor(c)!.pixelValues([img]);
    const ref = await reference(c, [{ data: padded, width: 180, height: 300, channels: 3 }]);
    expect(firstDifference(ours.data, ref.data)).toBeNull();
  });

  it('declines configs with steps it does not reproduce, so the caller uses transformers.js', () => {
    expect(createClipImagePreprocessor({ ...config, do_pad: true })).toBeNull();
    expect(createClipImagePreprocessor({ ...config, do_thumbnail: true })).toBeNull();
    expect(createClipImagePreprocessor({ ...config, do_flip_channel_order: true })).toBeNull();
    expect(
      createClipImagePreprocessor({ ...config, image_processor_type: 'DonutImageProcessor' }),
    ).toBeNull();
    // No crop and no fixed size: images keep their own sizes, so no single batch tensor.
    expect(createClipImagePreprocessor({ ...config, do_center_crop: false })).toBeNull();
    expect(createClipImagePreprocessor({ ...config, image_mean: [0.5, 0.5] })).toBeNull();
    expect(
      createClipImagePreprocessor({ ...config, image_processor_type: 'CLIPImageProcessorFast' }),
    ).not.toBeNull();
  });

  it('reports the short side to decode at', () => {
    expect(clipInputSize(config)).toBe(224);
    expect(clipInputSize({ size: 336 })).toBe(336);
    expect(clipInputSize({ size: { width: 384, height: 256 } })).toBe(256);
    expect(clipInputSize({ crop_size: { width: 288, height: 288 } })).toBe(288);
  });
});

describe('ClipModel.embedImages with the one-pass preprocessing', () => {
  let clip: ClipModel;
  let vision: Awaited<ReturnType<typeof CLIPVisionModelWithProjection.from_pretrained>>;
  beforeAll(async () => {
    clip = await loadClip(tiny.dirs.clip, { device: 'cpu', batchSize: 3 });
    vision = await CLIPVisionModelWithProjection.from_pretrained(tiny.dirs.clip, {
      local_files_only: true,
      device: 'cpu',
      dtype: 'fp32',
    });
  }, 120_000);
  afterAll(async () => {
    await clip.dispose();
    await vision.dispose();
  });

  it('exposes the processor’s shortest edge', () => {
    expect(clip.inputSize).toBe(224);
  });

  it('gives the embeddings of the transformers.js processor path (same batches), for every size and aspect', async () => {
    const ours = await clip.embedImages(images); // batches of 3, 3, 2 (the last in part of the reused buffer)
    const again = await clip.embedImages(images.slice(0, 2)); // the reused buffer, written again
    const theirs: Float32Array[] = [];
    for (let i = 0; i < images.length; i += 3) {
      const ref = await reference(config, images.slice(i, i + 3));
      const out = (await vision({ pixel_values: new Tensor('float32', ref.data, ref.dims) })) as {
        image_embeds: Tensor;
      };
      theirs.push(...splitRows(out.image_embeds).map(l2Normalize));
    }
    expect(ours).toHaveLength(images.length);
    // Bit-identical pixel_values into the same graph and batch shapes: bit-identical embeddings on CPU.
    ours.forEach((v, i) => expect(firstDifference(v, theirs[i]!)).toBeNull());
    const refPair = await reference(config, images.slice(0, 2));
    const pair = (await vision({
      pixel_values: new Tensor('float32', refPair.data, refPair.dims),
    })) as { image_embeds: Tensor };
    splitRows(pair.image_embeds)
      .map(l2Normalize)
      .forEach((v, i) => expect(firstDifference(again[i]!, v)).toBeNull());
  });

  it('still gives the reference embeddings after a batch fails', async () => {
    const bad = { ...images[0]!, width: 223 };
    await expect(clip.embedImages([images[1]!, bad])).rejects.toThrow(/expected 223×224×3 RGB/);
    const [a] = await clip.embedImages([images[1]!]);
    const ref = await reference(config, [images[1]!]);
    const one = (await vision({ pixel_values: new Tensor('float32', ref.data, ref.dims) })) as {
      image_embeds: Tensor;
    };
    expect(firstDifference(a!, l2Normalize(splitRows(one.image_embeds)[0]!))).toBeNull();
  });
});
