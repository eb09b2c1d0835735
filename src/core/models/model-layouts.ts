import type { ModelRole } from '../../shared/model-ref';

/** The files of one model role, as relative paths in the hub repository (and in a local folder). */
export type ModelLayout = {
  role: ModelRole;
  /** Must exist for the model to load. */
  required: readonly string[];
  /** Used when present (a 404 on download is skipped); part of the digest when present. */
  optional: readonly string[];
};

/**
 * Xenova/clip-vit-base-patch32 style (transformers.js): the separate text and vision towers in
 * fp32. The combined onnx/model.onnx and the quantized variants are not needed and not fetched.
 */
const clip: ModelLayout = {
  role: 'clip',
  required: [
    'config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'onnx/text_model.onnx',
    'onnx/vision_model.onnx',
  ],
  optional: ['special_tokens_map.json', 'vocab.json', 'merges.txt'],
};

/** Xenova/vit-gpt2-image-captioning style: transformers.js runs encoder + merged decoder. */
const captioner: ModelLayout = {
  role: 'captioner',
  required: [
    'config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'onnx/encoder_model.onnx',
    'onnx/decoder_model_merged.onnx',
  ],
  optional: ['generation_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt'],
};

/**
 * The files that define the conditioning encoder: what a site must run bit-for-bit to produce
 * embeddings the server's UNet understands (docs/architecture.md, "Models").
 */
export const ENCODER_FILES: readonly string[] = [
  'text_encoder/model.onnx',
  'text_encoder/model.onnx_data',
  'text_encoder/model.onnx.data',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'tokenizer/tokenizer_config.json',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer.json',
];

/**
 * diffusers-ONNX export (e.g. the ONNX exports of SD 2.1 base / sd-turbo made with optimum or
 * diffusers' convert script, or Olive). Large graphs keep their weights beside the graph as
 * external data, named as each exporter does: `model.onnx_data` (optimum, diffusers' convert
 * script), `model.onnx.data` (Olive / ORT transformers optimizer), `weights.pb` (older diffusers).
 * Submodel config.json files are optional: Olive exports ship none (docs/models.md).
 */
const generator: ModelLayout = {
  role: 'generator',
  required: [
    'model_index.json',
    'scheduler/scheduler_config.json',
    'text_encoder/model.onnx',
    'tokenizer/vocab.json',
    'tokenizer/merges.txt',
    'tokenizer/tokenizer_config.json',
    'unet/model.onnx',
    'vae_decoder/model.onnx',
  ],
  optional: [
    'tokenizer/special_tokens_map.json',
    'tokenizer/tokenizer.json',
    'text_encoder/config.json',
    'text_encoder/model.onnx_data',
    'text_encoder/model.onnx.data',
    'unet/config.json',
    'unet/model.onnx_data',
    'unet/model.onnx.data',
    'unet/weights.pb',
    'vae_decoder/config.json',
    'vae_decoder/model.onnx_data',
    'vae_decoder/model.onnx.data',
  ],
};

export const MODEL_LAYOUTS: Readonly<Record<ModelRole, ModelLayout>> = {
  clip,
  captioner,
  generator,
};

/** Every file of a role's layout, required first. */
export function layoutFiles(role: ModelRole): string[] {
  const layout = MODEL_LAYOUTS[role];
  return [...layout.required, ...layout.optional];
}
