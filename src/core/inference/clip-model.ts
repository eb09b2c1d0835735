import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  AutoImageProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  type Tensor,
} from '@huggingface/transformers';
import { type DeviceChoice, resolveDevice, transformersDevice } from '../ort/execution-device';
import { l2Normalize, splitRows } from './embedding-rows';
import { type RgbImage, toRawImage } from './rgb-image';

export type ClipModel = {
  /** Embedding dimension (projection_dim). */
  dim: number;
  /** Execution provider used, for reports. */
  device: string;
  /** Set when `auto` could not use the GPU. */
  fallbackMessage?: string;
  /** One L2-normalised embedding per image. */
  embedImages(images: readonly RgbImage[]): Promise<Float32Array[]>;
  /** One L2-normalised embedding per text (padded + truncated to the tokenizer's max length). */
  embedTexts(texts: readonly string[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
};

export type LoadClipOptions = { device: DeviceChoice; batchSize?: number };

type ClipConfig = { projection_dim?: number; text_config?: { projection_dim?: number } };

/**
 * CLIP from a resolved local folder (transformers.js layout: onnx/text_model.onnx and
 * onnx/vision_model.onnx). transformers.js is told to read only that folder.
 */
export async function loadClip(dir: string, opts: LoadClipOptions): Promise<ClipModel> {
  const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8')) as ClipConfig;
  const dim = config.projection_dim ?? config.text_config?.projection_dim;
  if (typeof dim !== 'number')
    throw new Error(
      `${path.join(dir, 'config.json')} has no projection_dim: is this a CLIP model?`,
    );

  const { device, fallbackMessage } = await resolveDevice(opts.device);
  const load = {
    local_files_only: true,
    device: transformersDevice(device),
    dtype: 'fp32',
  } as const;
  const [processor, tokenizer, vision, text] = await Promise.all([
    AutoImageProcessor.from_pretrained(dir, { local_files_only: true }),
    AutoTokenizer.from_pretrained(dir, { local_files_only: true }),
    CLIPVisionModelWithProjection.from_pretrained(dir, load),
    CLIPTextModelWithProjection.from_pretrained(dir, load),
  ]);
  const batchSize = opts.batchSize ?? 16;

  const check = (rows: Float32Array[], what: string) => {
    if (rows[0] && rows[0].length !== dim) {
      throw new Error(
        `CLIP ${what} embeddings have ${rows[0].length} values but config.json says projection_dim ${dim}.`,
      );
    }
    return rows;
  };

  return {
    dim,
    device,
    fallbackMessage,
    async embedImages(images) {
      const out: Float32Array[] = [];
      for (let i = 0; i < images.length; i += batchSize) {
        const raws = images.slice(i, i + batchSize).map(toRawImage);
        const inputs = (await processor(raws)) as { pixel_values: Tensor };
        const result = (await vision({ pixel_values: inputs.pixel_values })) as {
          image_embeds: Tensor;
        };
        out.push(...splitRows(result.image_embeds).map(l2Normalize));
      }
      return check(out, 'image');
    },
    async embedTexts(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) {
        const inputs = tokenizer([...texts.slice(i, i + batchSize)], {
          padding: true,
          truncation: true,
        }) as Record<string, Tensor>;
        const result = (await text(inputs)) as { text_embeds: Tensor };
        out.push(...splitRows(result.text_embeds).map(l2Normalize));
      }
      return check(out, 'text');
    },
    async dispose() {
      await Promise.all([vision.dispose(), text.dispose()]);
    },
  };
}
