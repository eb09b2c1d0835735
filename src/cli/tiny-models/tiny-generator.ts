import { clipTokenizer } from './bpe-tokenizer';
import { conv2d, dense, silu } from './graph-layers';
import {
  type FolderFiles,
  TINY_MARKER_KEY,
  jsonBytes,
  textBytes,
  tinyMarker,
} from './model-folder';
import { type ElemType, OnnxGraph } from './onnx-graph';
import { SeededRandom } from './seeded-random';
import { publishedGeneratorFiles, sd21Scheduler } from './published-layouts';
import { type TinyModelOptions, layoutFor } from './tiny-model-options';
import { TINY_WORDS } from './tiny-vocabulary';

const MAX_LENGTH = 77;
const LATENT_CHANNELS = 4;
/** SD's VAE latent scale: pipelines divide latents by it before `vae_decoder`. */
const VAE_SCALING_FACTOR = 0.18215;
const ONNX_FLOAT = 1;
const ONNX_FLOAT16 = 10;

/** Float inputs arrive in the model's I/O type and are computed in float32 (ORT's CPU float16 kernels are few). */
function floatIn(g: OnnxGraph, name: string, io: ElemType, dims: (number | string)[]): string {
  g.input(name, io, dims);
  return io === 'float16' ? g.op('Cast', [name], { to: { int: ONNX_FLOAT } }) : name;
}

function floatOut(
  g: OnnxGraph,
  value: string,
  name: string,
  io: ElemType,
  dims: (number | string)[],
): void {
  if (io === 'float16') g.op('Cast', [value], { to: { int: ONNX_FLOAT16 } }, name);
  else g.op('Identity', [value], {}, name);
  g.output(name, io, dims);
}

/**
 * text_encoder: input_ids int32 [B,77] → last_hidden_state [B,77,D], pooler_output [B,D].
 * Each position mixes its token with the running (causal) mean of the tokens before it, like a
 * causal transformer would, so padding rows still depend on the prompt; pooler_output is the row at
 * the first end-of-text token (the highest id), as in CLIPTextModel.
 */
function textEncoder(o: TinyModelOptions, vocabSize: number, io: ElemType): Uint8Array {
  const rng = new SeededRandom(o.seed, 'generator-text');
  const D = o.textHiddenDim;
  const g = new OnnxGraph('text_encoder_tiny');
  const ids32 = g.input('input_ids', 'int32', ['batch', 'sequence']);
  const ids = g.op('Cast', [ids32], { to: { int: 7 } });
  const table = g.floatTensor('token_embedding', [vocabSize, D], rng.normals(vocabSize * D, 1));
  const emb = g.op('Gather', [table, ids], { axis: { int: 0 } }); // [B,T,D]

  const axis1 = g.ints('ax1', [1]);
  const seqLen = g.op('Slice', [g.op('Shape', [ids]), axis1, g.ints('two', [2])]);
  const posTable = g.floatTensor(
    'position_embedding',
    [MAX_LENGTH, D],
    rng.normals(MAX_LENGTH * D, 0.1),
  );
  const pos = g.op('Slice', [posTable, g.ints('zero', [0]), seqLen, g.ints('ax0', [0])]);
  // Running mean over positions 1..t: CumSum / t.
  const counts = g.op('Unsqueeze', [
    g.op(
      'Cast',
      [
        g.op('Range', [
          g.int64Tensor('one_i', [], [1]),
          g.op('Add', [g.op('Squeeze', [seqLen]), g.int64Tensor('one_j', [], [1])]),
          g.int64Tensor('step', [], [1]),
        ]),
      ],
      { to: { int: ONNX_FLOAT } },
    ),
    g.ints('ax_last', [1]),
  ]); // [T,1]
  const causal = g.op('Div', [g.op('CumSum', [emb, g.int64Tensor('cum_axis', [], [1])]), counts]);
  const mixed = g.op('Add', [
    dense(g, rng, emb, D, D, { hint: 'token_proj' }),
    dense(g, rng, causal, D, D, { hint: 'context_proj', bias: false }),
  ]);
  const hidden = g.op('Tanh', [g.op('Add', [mixed, pos])]);
  floatOut(g, hidden, 'last_hidden_state', io, ['batch', 'sequence', D]);

  // pooler_output: hidden state at argmax(input_ids), i.e. the first <|endoftext|>.
  const eosAt = g.op('ArgMax', [g.op('Cast', [ids], { to: { int: ONNX_FLOAT } })], {
    axis: { int: 1 },
    keepdims: { int: 1 },
  }); // [B,1]
  const batch = g.op('Slice', [g.op('Shape', [ids]), g.ints('zero_b', [0]), g.ints('one_b', [1])]);
  const index = g.op('Expand', [
    g.op('Unsqueeze', [eosAt, g.ints('ax2', [2])]),
    g.op('Concat', [batch, g.ints('one_c', [1]), g.ints('d', [D])], { axis: { int: 0 } }),
  ]);
  const pooled = g.op('Squeeze', [
    g.op('GatherElements', [hidden, index], { axis: { int: 1 } }),
    axis1,
  ]);
  floatOut(g, pooled, 'pooler_output', io, ['batch', D]);
  return g.toBytes('FGL tiny SD text encoder (token + causal-mean mixing). Not a real model.');
}

/**
 * unet: sample [B,4,h,w], timestep [B] (or [1]), encoder_hidden_states [B,77,D] → out_sample [B,4,h,w].
 * Blocks of conv + timestep embedding + cross-attention over the conditioning, plus a skip from
 * the input, so the noise prediction depends on the latents, the timestep and every prompt token.
 */
function unet(o: TinyModelOptions, io: ElemType): Uint8Array {
  const rng = new SeededRandom(o.seed, 'generator-unet');
  const C = o.unetChannels;
  const D = o.textHiddenDim;
  const g = new OnnxGraph('unet_tiny');
  const sample = floatIn(g, 'sample', io, ['batch', LATENT_CHANNELS, 'height', 'width']);
  const tType: ElemType = o.timestepType === 'int64' ? 'int64' : io;
  g.input('timestep', tType, ['batch']);
  const t =
    tType === 'float32' ? 'timestep' : g.op('Cast', ['timestep'], { to: { int: ONNX_FLOAT } });
  const ehs = floatIn(g, 'encoder_hidden_states', io, ['batch', 'sequence', D]);

  // Sinusoidal timestep embedding [T, 2F] → MLP → [T, C, 1, 1] (T = B or 1; broadcasts either way).
  const F = 16;
  const freqs = new Float32Array(F);
  // Octave-spaced frequencies 1 … 2⁻¹⁵ (exact in binary, so the file bytes never depend on Math.pow).
  for (let i = 0; i < F; i++) freqs[i] = 1 / (1 << i);
  const angles = g.op('Mul', [
    g.op('Unsqueeze', [t, g.ints('ax_t', [1])]),
    g.floatTensor('freqs', [1, F], freqs),
  ]);
  const tEmb0 = g.op('Concat', [g.op('Sin', [angles]), g.op('Cos', [angles])], {
    axis: { int: 1 },
  });
  const tEmb = silu(g, dense(g, rng, tEmb0, 2 * F, C, { hint: 'time_mlp' }));

  // Conditioning keys/values are shared by all blocks' cross-attention.
  let h = conv2d(g, rng, sample, LATENT_CHANNELS, C, { hint: 'conv_in' });
  const hShape = g.ints('nc_flat', [0, C, -1]);
  const scale = g.scalar('attn_scale', 1 / Math.sqrt(C));
  for (let b = 0; b < o.unetBlocks; b++) {
    const tBias = g.op('Reshape', [
      dense(g, rng, tEmb, C, C, { hint: `time_proj${b}` }),
      g.ints(`t_shape${b}`, [-1, C, 1, 1]),
    ]);
    h = conv2d(g, rng, silu(g, g.op('Add', [h, tBias])), C, C, { hint: `res${b}_conv` });
    // Cross-attention: queries from the latents, keys/values from encoder_hidden_states.
    const q = dense(
      g,
      rng,
      g.op('Transpose', [g.op('Reshape', [h, hShape])], { perm: { ints: [0, 2, 1] } }),
      C,
      C,
      { hint: `q${b}`, bias: false },
    );
    const k = dense(g, rng, ehs, D, C, { hint: `k${b}`, bias: false });
    const v = dense(g, rng, ehs, D, C, { hint: `v${b}`, bias: false });
    const scores = g.op('Mul', [
      g.op('MatMul', [q, g.op('Transpose', [k], { perm: { ints: [0, 2, 1] } })]),
      scale,
    ]);
    const attended = dense(
      g,
      rng,
      g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), v]),
      C,
      C,
      { hint: `o${b}`, bias: false },
    );
    const back = g.op('Reshape', [
      g.op('Transpose', [attended], { perm: { ints: [0, 2, 1] } }),
      g.op('Shape', [h]),
    ]);
    h = g.op('Add', [h, back]);
  }
  const eps = conv2d(g, rng, silu(g, h), C, LATENT_CHANNELS, { hint: 'conv_out', gain: 1 });
  // A skip from the input keeps the noise estimate near the noise at high timesteps, as a trained UNet's is.
  const out = g.op('Add', [g.op('Mul', [sample, g.scalar('skip', 0.8)]), eps]);
  floatOut(g, out, 'out_sample', io, ['batch', LATENT_CHANNELS, 'height', 'width']);
  return g.toBytes('FGL tiny SD UNet (conv + time embedding + cross-attention). Not a real model.');
}

/** vae_decoder: latent_sample [B,4,h,w] → sample [B,3,8h,8w] in (-1, 1): three ×2 upsampling conv stages, tanh. */
function vaeDecoder(o: TinyModelOptions, io: ElemType): Uint8Array {
  const rng = new SeededRandom(o.seed, 'generator-vae');
  const g = new OnnxGraph('vae_decoder_tiny');
  const z = floatIn(g, 'latent_sample', io, ['batch', LATENT_CHANNELS, 'height', 'width']);
  const widths = o.preset === 'bench' ? [128, 64, 32] : [16, 8, 8];
  const up = g.floatTensor('up2', [4], Float32Array.of(1, 1, 2, 2));
  let h = silu(
    g,
    conv2d(
      g,
      rng,
      g.op('Mul', [z, g.scalar('unscale', VAE_SCALING_FACTOR)]),
      LATENT_CHANNELS,
      widths[0]!,
      { hint: 'conv_in' },
    ),
  );
  let ch = widths[0]!;
  for (const [i, w] of widths.entries()) {
    h = g.op('Resize', [h, '', up], { mode: { string: 'nearest' } });
    h = silu(g, conv2d(g, rng, h, ch, w, { hint: `up${i}` }));
    ch = w;
  }
  // The low-frequency colour comes straight from the latents (a 1×1 mix, upsampled), as in a real VAE.
  const colour = g.op(
    'Resize',
    [
      conv2d(g, rng, z, LATENT_CHANNELS, 3, {
        kernel: 1,
        hint: 'colour',
        gain: VAE_SCALING_FACTOR,
      }),
      '',
      g.floatTensor('up8', [4], Float32Array.of(1, 1, 8, 8)),
    ],
    { mode: { string: 'nearest' } },
  );
  const img = g.op('Tanh', [
    g.op('Add', [conv2d(g, rng, h, ch, 3, { hint: 'conv_out', gain: 1 }), colour]),
  ]);
  floatOut(g, img, 'sample', io, ['batch', 3, 'height_out', 'width_out']);
  return g.toBytes('FGL tiny SD VAE decoder (upsampling convs). Not a real model.');
}

/** vae_encoder: sample [B,3,H,W] in (-1, 1) → latent_sample [B,4,H/8,W/8] (8×8 mean pool + 1×1 mix). */
function vaeEncoder(o: TinyModelOptions, io: ElemType): Uint8Array {
  const rng = new SeededRandom(o.seed, 'generator-vae-encoder');
  const g = new OnnxGraph('vae_encoder_tiny');
  const x = floatIn(g, 'sample', io, ['batch', 3, 'height', 'width']);
  const pooled = g.op('AveragePool', [x], {
    kernel_shape: { ints: [8, 8] },
    strides: { ints: [8, 8] },
  });
  const z = conv2d(g, rng, pooled, 3, LATENT_CHANNELS, { kernel: 1, hint: 'mix', gain: 1 });
  floatOut(g, z, 'latent_sample', io, ['batch', LATENT_CHANNELS, 'height_latent', 'width_latent']);
  return g.toBytes('FGL tiny SD VAE encoder (mean pool + 1x1 conv). Not a real model.');
}

/** The graphs, tokenizer and configs every generator layout is made of. */
export type TinyGeneratorParts = {
  tok: ReturnType<typeof clipTokenizer>;
  textEncoder: Uint8Array;
  unet: Uint8Array;
  vaeDecoder: Uint8Array;
  vaeEncoder: () => Uint8Array;
  /** config.json of text_encoder/, unet/ and vae_decoder/ (and vae_encoder/), as diffusers writes them. */
  configs: { textEncoder: object; unet: object; vae: object };
};

export function tinyGeneratorParts(o: TinyModelOptions): TinyGeneratorParts {
  const io: ElemType = o.fp16 ? 'float16' : 'float32';
  const tok = clipTokenizer(TINY_WORDS, '!');
  const D = o.textHiddenDim;
  const marker = tinyMarker(o);
  const textEncoderConfig = {
    [TINY_MARKER_KEY]: marker,
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: D,
    projection_dim: D,
    intermediate_size: 4 * D,
    num_hidden_layers: 1,
    num_attention_heads: 1,
    hidden_act: 'gelu',
    max_position_embeddings: MAX_LENGTH,
    vocab_size: tok.vocabSize,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.padId,
    torch_dtype: o.fp16 ? 'float16' : 'float32',
  };
  const unetConfig = {
    _class_name: 'UNet2DConditionModel',
    _diffusers_version: '0.27.0',
    [TINY_MARKER_KEY]: { ...marker, timestep_type: o.timestepType, blocks: o.unetBlocks },
    sample_size: o.latentSize,
    in_channels: LATENT_CHANNELS,
    out_channels: LATENT_CHANNELS,
    cross_attention_dim: D,
    block_out_channels: [o.unetChannels],
    layers_per_block: o.unetBlocks,
    attention_head_dim: o.unetChannels,
    down_block_types: ['CrossAttnDownBlock2D'],
    up_block_types: ['CrossAttnUpBlock2D'],
  };
  const vaeConfig = {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.27.0',
    [TINY_MARKER_KEY]: marker,
    in_channels: 3,
    out_channels: 3,
    latent_channels: LATENT_CHANNELS,
    sample_size: o.latentSize * 8,
    scaling_factor: VAE_SCALING_FACTOR,
  };
  return {
    tok,
    textEncoder: textEncoder(o, tok.vocabSize, io),
    unet: unet(o, io),
    vaeDecoder: vaeDecoder(o, io),
    vaeEncoder: () => vaeEncoder(o, io),
    configs: { textEncoder: textEncoderConfig, unet: unetConfig, vae: vaeConfig },
  };
}

/** The diffusers ONNX layout (OnnxStableDiffusionPipeline, as the SD 2.1 base / SD-Turbo ONNX exports), or a published one (`o.layouts`). */
export function tinyGeneratorFiles(o: TinyModelOptions): FolderFiles {
  const parts = tinyGeneratorParts(o);
  const layout = layoutFor(o, 'generator');
  if (layout !== null) return publishedGeneratorFiles(layout, o, parts);
  const { tok } = parts;
  const modelIndex = {
    _class_name: 'OnnxStableDiffusionPipeline',
    _diffusers_version: '0.27.0',
    [TINY_MARKER_KEY]: tinyMarker(o),
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', 'PNDMScheduler'],
    text_encoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'OnnxRuntimeModel'],
    vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
  };
  // SD 2.1 base's scheduler, as a newer diffusers writes it (timestep_spacing spelled out).
  const scheduler = sd21Scheduler({ _diffusers_version: '0.27.0', timestep_spacing: 'leading' });
  return new Map([
    ['model_index.json', jsonBytes(modelIndex)],
    ['scheduler/scheduler_config.json', jsonBytes(scheduler)],
    ['tokenizer/merges.txt', textBytes(tok.mergesTxt)],
    ['tokenizer/special_tokens_map.json', jsonBytes(tok.specialTokensMap)],
    ['tokenizer/tokenizer.json', jsonBytes(tok.tokenizer)],
    ['tokenizer/tokenizer_config.json', jsonBytes(tok.tokenizerConfig)],
    ['tokenizer/vocab.json', jsonBytes(tok.vocab)],
    ['text_encoder/config.json', jsonBytes(parts.configs.textEncoder)],
    ['text_encoder/model.onnx', parts.textEncoder],
    ['unet/config.json', jsonBytes(parts.configs.unet)],
    ['unet/model.onnx', parts.unet],
    ['vae_decoder/config.json', jsonBytes(parts.configs.vae)],
    ['vae_decoder/model.onnx', parts.vaeDecoder],
  ]);
}
