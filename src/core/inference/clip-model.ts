import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import {
  AutoImageProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  Tensor,
} from '@huggingface/transformers';
import { type DeviceChoice, resolveDevice, transformersDevice } from '../ort/execution-device';
import {
  type PreprocessorConfig,
  clipInputSize,
  createClipImagePreprocessor,
} from './clip-image-preprocessor';
import { normalizeEmbedding, splitRows } from './embedding-rows';
import { type RgbImage, toRawImage } from './rgb-image';

export type ClipModel = {
  /** Embedding dimension (projection_dim). */
  dim: number;
  /**
   * The short side the image processor resizes to (preprocessor_config.json `size.shortest_edge`,
   * 224 for ViT-B/32). Decode images at this size and the processor's resize is a no-op.
   */
  inputSize: number;
  /** Execution provider used, for reports. */
  device: string;
  /** Set when `auto` could not use the GPU. */
  fallbackMessage?: string;
  /**
   * The ORT session `embedImages` runs (transformers.js's vision session): benchmarks time a raw
   * `session.run` on this very session as the floor. Not for production use.
   */
  visionSession: InferenceSession;
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
  const preprocessorConfig = JSON.parse(
    await readFile(path.join(dir, 'preprocessor_config.json'), 'utf8'),
  ) as PreprocessorConfig;
  // One pass into one batch buffer when the config is one we reproduce exactly; else transformers.js's.
  const fast = createClipImagePreprocessor(preprocessorConfig);
  const [processor, tokenizer, vision, text] = await Promise.all([
    AutoImageProcessor.from_pretrained(dir, { local_files_only: true }),
    AutoTokenizer.from_pretrained(dir, { local_files_only: true }),
    CLIPVisionModelWithProjection.from_pretrained(dir, load),
    CLIPTextModelWithProjection.from_pretrained(dir, load),
  ]);
  const batchSize = opts.batchSize ?? 16;
  // One batch buffer reused across calls: allocating ~10 MB per batch costs as much as filling it.
  let spare: Float32Array | null = null;

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
    inputSize: fast?.inputSize ?? clipInputSize(preprocessorConfig),
    device,
    fallbackMessage,
    visionSession: vision.sessions.model as InferenceSession,
    async embedImages(images) {
      const out: Float32Array[] = [];
      for (let i = 0; i < images.length; i += batchSize) {
        const batch = images.slice(i, i + batchSize);
        // Taken while this batch is in flight; a concurrent call meanwhile allocates its own.
        const buffer =
          spare ?? (fast ? new Float32Array(batchSize * 3 * fast.height * fast.width) : null);
        spare = null;
        try {
          let pixelValues: Tensor;
          if (fast) {
            const { data, dims } = await fast.pixelValues(batch, buffer ?? undefined);
            pixelValues = new Tensor('float32', data, dims);
          } else {
            pixelValues = ((await processor(batch.map(toRawImage))) as { pixel_values: Tensor })
              .pixel_values;
          }
          const result = (await vision({ pixel_values: pixelValues })) as {
            image_embeds: Tensor;
          };
          out.push(...splitRows(result.image_embeds).map(normalizeEmbedding));
        } finally {
          // ONNX Runtime is done with the input once run() resolves: the buffer is free again.
          if (buffer) spare = buffer;
        }
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
        out.push(...splitRows(result.text_embeds).map(normalizeEmbedding));
      }
      return check(out, 'text');
    },
    async dispose() {
      await Promise.all([vision.dispose(), text.dispose()]);
    },
  };
}
