/**
 * The published architectures the real-size graphs reproduce, with the values of their published
 * config.json files, and the published sizes a test checks the built graphs against.
 */

/** huggingface.co/openai/clip-vit-base-patch32, config.json. */
export const CLIP_VIT_B32 = {
  projection_dim: 512,
  vision_config: {
    hidden_size: 768,
    intermediate_size: 3072,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    image_size: 224,
    patch_size: 32,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  },
  text_config: {
    hidden_size: 512,
    intermediate_size: 2048,
    num_hidden_layers: 12,
    num_attention_heads: 8,
    max_position_embeddings: 77,
    vocab_size: 49408,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
  },
} as const;

/**
 * stabilityai/stable-diffusion-2-base (and sd-turbo, same shapes) text_encoder/config.json:
 * OpenCLIP ViT-H/14's text tower, used to its penultimate layer (23 of 24).
 */
export const SD2_TEXT_ENCODER = {
  hidden_size: 1024,
  intermediate_size: 4096,
  num_hidden_layers: 23,
  num_attention_heads: 16,
  max_position_embeddings: 77,
  vocab_size: 49408,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
} as const;

/** stabilityai/stable-diffusion-2-base (and sd-turbo) unet/config.json. */
export const SD2_UNET = {
  in_channels: 4,
  out_channels: 4,
  sample_size: 64,
  block_out_channels: [320, 640, 1280, 1280],
  down_block_types: [
    'CrossAttnDownBlock2D',
    'CrossAttnDownBlock2D',
    'CrossAttnDownBlock2D',
    'DownBlock2D',
  ],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  layers_per_block: 2,
  /** diffusers reads this as the number of heads per block: 320/5 = … = 64 channels per head. */
  attention_head_dim: [5, 10, 20, 20],
  cross_attention_dim: 1024,
  use_linear_projection: true,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  flip_sin_to_cos: true,
  freq_shift: 0,
} as const;

/** stabilityai/stable-diffusion-2-base vae/config.json (AutoencoderKL; the decoder half). */
export const SD2_VAE = {
  latent_channels: 4,
  out_channels: 3,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  norm_num_groups: 32,
  scaling_factor: 0.18215,
  sample_size: 512,
} as const;

/**
 * nlpconnect/vit-gpt2-image-captioning config.json (as exported for transformers.js by
 * Xenova/vit-gpt2-image-captioning): a ViT-B/16 encoder at 224² (google/vit-base-patch16-224-in21k)
 * and a GPT-2 small decoder with cross-attention in every block.
 */
export const VIT_GPT2 = {
  encoder: {
    hidden_size: 768,
    intermediate_size: 3072,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    image_size: 224,
    patch_size: 16,
    num_channels: 3,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    qkv_bias: true,
  },
  decoder: {
    n_embd: 768,
    n_head: 12,
    n_layer: 12,
    n_inner: null,
    n_positions: 1024,
    n_ctx: 1024,
    vocab_size: 50257,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    add_cross_attention: true,
    bos_token_id: 50256,
    eos_token_id: 50256,
  },
  decoder_start_token_id: 50256,
  pad_token_id: 50256,
} as const;

/** The shape of each spec, so tests can build a miniature through the very same code. */
export type ClipSpec = {
  projection_dim: number;
  vision_config: {
    hidden_size: number;
    intermediate_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    image_size: number;
    patch_size: number;
    layer_norm_eps: number;
  };
  text_config: TextEncoderSpec;
};
export type TextEncoderSpec = {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  vocab_size: number;
  layer_norm_eps: number;
};
export type UnetSpec = {
  in_channels: number;
  out_channels: number;
  sample_size: number;
  block_out_channels: readonly number[];
  down_block_types: readonly string[];
  up_block_types: readonly string[];
  layers_per_block: number;
  attention_head_dim: readonly number[];
  cross_attention_dim: number;
  norm_num_groups: number;
  norm_eps: number;
  freq_shift: number;
};
export type VaeSpec = {
  latent_channels: number;
  out_channels: number;
  block_out_channels: readonly number[];
  layers_per_block: number;
  norm_num_groups: number;
};

export type VitEncoderSpec = {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  num_channels: number;
  layer_norm_eps: number;
};
export type Gpt2DecoderSpec = {
  n_embd: number;
  n_head: number;
  n_layer: number;
  n_positions: number;
  vocab_size: number;
  layer_norm_epsilon: number;
};

export type RealModelName =
  | 'clipVision'
  | 'clipText'
  | 'textEncoder'
  | 'unet'
  | 'vaeDecoder'
  | 'captionerEncoder'
  | 'captionerDecoder';

/**
 * ViT-B/16's pooler (dense 768² + bias, tanh) is part of the 239 M-parameter checkpoint but not
 * of the encoder export, whose only output is last_hidden_state (the decoder attends to it), so
 * the unused pooler is dropped from encoder_model.onnx.
 */
export const VIT_POOLER_PARAMS = 768 * 768 + 768;
/** nlpconnect/vit-gpt2-image-captioning: 239,195,904 parameters (the model card's "239M params"). */
export const VIT_GPT2_PARAMS = 239_195_904;

/**
 * Published sizes. FLOPs = 2 × multiply-accumulates of matmuls/convolutions/attention, per call at
 * batch 1 (CLIP: one 224² image or 77 tokens; SD: 77 tokens, a 64² latent, a 64² → 512² decode).
 */
/**
 * BK-SDM (Kim et al., 2023, arXiv 2305.15798), Table 1: the SD U-Net at 512² costs 339 G
 * multiply-accumulates per call, counted over conv and linear layers (not the attention products).
 * SD-v1.4's figure; SD 2 has the same widths and layout and differs only in the 77-token K/V
 * projections (768 → 1024 inputs), well under 0.1 % of it.
 */
export const UNET_CONV_LINEAR_GMACS = 339;

export const PUBLISHED: Record<
  RealModelName,
  { params: number; gflops: number | null; source: string }
> = {
  clipVision: {
    params: 87.85e6,
    gflops: 8.82,
    source: 'open_clip docs/model_profile.csv, ViT-B-32: image_mparams 87.85, image_gflops 8.82',
  },
  clipText: {
    params: 63.43e6,
    gflops: 5.96,
    source: 'open_clip docs/model_profile.csv, ViT-B-32: text_mparams 63.43, text_gflops 5.96',
  },
  textEncoder: {
    // ViT-H-14's text tower is 354.03 M / 47.09 GFLOPs with 24 layers and a 1024² projection;
    // SD 2 keeps 23 layers and no projection: 354.03 − 12.596 − 1.049 M, 47.09 × 23/24 GFLOPs.
    params: 340.39e6,
    gflops: 45.13,
    source:
      'open_clip docs/model_profile.csv, ViT-H-14: text_mparams 354.03, text_gflops 47.09 (24 layers + projection), scaled to SD 2’s 23 layers without projection',
  },
  unet: {
    params: 865.91e6,
    // Counted with attention products; BK-SDM's 339 GMACs (conv + linear only) is checked separately.
    gflops: null,
    source:
      'diffusers UNet2DConditionModel of stabilityai/stable-diffusion-2-base: 865,910,724 parameters ("0.87B", BK-SDM model card)',
  },
  vaeDecoder: {
    params: 49.49e6,
    gflops: null,
    source:
      'diffusers AutoencoderKL of stabilityai/stable-diffusion-2-base: decoder + post_quant_conv 49,490,199 parameters',
  },
  captionerEncoder: {
    // ViT-B/16 (ViTModel) is 86,389,248 parameters with its pooler; the export drops the pooler.
    params: 86_389_248 - VIT_POOLER_PARAMS,
    // DeiT-B / ViT-B/16 at 224²: 17.6 G multiply-accumulates ("FLOPs" in fvcore's count) per image.
    gflops: 2 * 17.6,
    source:
      'google/vit-base-patch16-224-in21k ViTModel 86,389,248 parameters less the 590,592-parameter pooler the encoder export drops; 17.6 GMACs per 224² image (DeiT, Touvron et al. 2021, Table 1, DeiT-B)',
  },
  captionerDecoder: {
    // GPT-2 small (tied LM head) 124,439,808 + 12 cross-attention blocks of 2,363,904.
    params: 124_439_808 + 12 * 2_363_904,
    // Per generated token it depends on the cache length; not a single published figure.
    gflops: null,
    source:
      'GPT-2 small (openai-community/gpt2) 124,439,808 parameters + 12 cross-attention blocks (ln_cross_attn, q_attn, c_attn, c_proj) of 2,363,904: 152,806,656',
  },
};
