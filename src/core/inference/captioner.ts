import { pipeline } from '@huggingface/transformers';
import type { InferenceSession } from 'onnxruntime-node';
import { type DeviceChoice, resolveDevice, transformersDevice } from '../ort/execution-device';
import { type RgbImage, toRawImage } from './rgb-image';

export type Captioner = {
  device: string;
  fallbackMessage?: string;
  /**
   * The ORT sessions `caption` runs (transformers.js's encoder and merged decoder): benchmarks time
   * a raw greedy loop of `session.run` on these very sessions as the floor. Not for production use.
   */
  sessions: { encoder: InferenceSession; decoder: InferenceSession };
  /** One caption per image, in order. */
  caption(images: readonly RgbImage[]): Promise<string[]>;
  dispose(): Promise<void>;
};

export type LoadCaptionerOptions = { device: DeviceChoice; maxNewTokens?: number };

/** An image-to-text model (vit-gpt2 layout: onnx/encoder_model.onnx + onnx/decoder_model_merged.onnx) from a resolved local folder. */
export async function loadCaptioner(dir: string, opts: LoadCaptionerOptions): Promise<Captioner> {
  const { device, fallbackMessage } = await resolveDevice(opts.device);
  const pipe = await pipeline('image-to-text', dir, {
    local_files_only: true,
    device: transformersDevice(device),
    dtype: 'fp32',
  });
  const maxNewTokens = opts.maxNewTokens ?? 30;
  const sessions = (pipe.model as unknown as { sessions: Record<string, InferenceSession> })
    .sessions;
  return {
    device,
    fallbackMessage,
    sessions: { encoder: sessions.model!, decoder: sessions.decoder_model_merged! },
    async caption(images) {
      if (images.length === 0) return [];
      const out = (await pipe(images.map(toRawImage), { max_new_tokens: maxNewTokens })) as {
        generated_text: string;
      }[][];
      return out.map((rows) => rows[0]?.generated_text ?? '');
    },
    async dispose() {
      await pipe.dispose();
    },
  };
}
