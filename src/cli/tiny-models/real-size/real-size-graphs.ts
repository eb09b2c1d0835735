import { type GraphCost, type RealDType, RealGraph, type Val, type WeightMode } from './real-graph';
import {
  add,
  attentionCore,
  causalMask,
  clipEncoderLayer,
  concatChannels,
  conv2d,
  gelu,
  geluTanh,
  groupNorm,
  layerNorm,
  linear,
  poolAtArgmax,
  silu,
  toMap,
  toTokens,
  upsample2x,
} from './real-layers';
import {
  CLIP_VIT_B32,
  type ClipSpec,
  type RealModelName,
  SD2_TEXT_ENCODER,
  SD2_UNET,
  SD2_VAE,
  type TextEncoderSpec,
  type Gpt2DecoderSpec,
  type UnetSpec,
  type VaeSpec,
  VIT_GPT2,
  type VitEncoderSpec,
} from './real-size-specs';

/**
 * The five real-size graphs. Each takes a RealGraph (count-only or writing weights) and declares
 * the same inputs and outputs as the published ONNX exports the app loads: transformers.js's CLIP
 * (Xenova/clip-vit-base-patch32) and diffusers' OnnxStableDiffusionPipeline.
 */

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;

/** Float graph inputs/outputs carry the graph's dtype, like real fp16 exports. */
function floatInput(r: RealGraph, name: string, dims: (number | string)[], shape: number[]): Val {
  r.g.input(name, r.dtype, dims);
  return { name, shape };
}

function namedOutput(r: RealGraph, x: Val, name: string, dims: (number | string)[]): void {
  r.g.op('Identity', [x.name], {}, name);
  r.g.output(name, r.dtype, dims);
}

/** Token + position embedding for ids [B,T] (int64), T ≤ maxPos. */
function embedTokens(
  r: RealGraph,
  ids64: string,
  vocab: number,
  width: number,
  maxPos: number,
  seqLen: string,
  hint: string,
): Val {
  const g = r.g;
  const table = r.weight(`${hint}_token_embedding`, [vocab, width], { std: 0.02 });
  const pos = r.weight(`${hint}_position_embedding`, [maxPos, width], { std: 0.01 });
  const emb = g.op('Gather', [table, ids64], { axis: { int: 0 } });
  const posT = g.op('Slice', [pos, g.ints('pos_from', [0]), seqLen, g.ints('pos_axis', [0])]);
  return { name: g.op('Add', [emb, posT]), shape: [1, maxPos, width] };
}

function seqLength(r: RealGraph, ids: string): string {
  return r.g.op('Slice', [
    r.g.op('Shape', [ids]),
    r.g.ints('sl_from', [1]),
    r.g.ints('sl_to', [2]),
  ]);
}

/**
 * A ViT's input embedding (CLIP's vision tower, the captioner's ViT): pixel_values → a
 * patch × patch stride-patch convolution, a learned class token in front, learned positions
 * added: [B, 1 + (imageSize/patch)², hidden]. The exports differ only in the names, the patch
 * bias and the positions' shape ([tokens, H] in CLIP, [1, tokens, H] in ViT).
 */
function patchEmbedding(
  r: RealGraph,
  o: {
    channels: number;
    imageSize: number;
    patch: number;
    hidden: number;
    patchBias: boolean;
    classWeight: string;
    position: { weight: string; batched: boolean; std: number };
  },
): Val {
  const g = r.g;
  const S = o.imageSize;
  const tokens = (S / o.patch) ** 2 + 1;
  const x = floatInput(r, 'pixel_values', ['batch_size', o.channels, S, S], [1, 3, S, S]);
  const patches = conv2d(r, x, o.hidden, {
    kernel: o.patch,
    stride: o.patch,
    pad: 0,
    ...(o.patchBias ? {} : { bias: false }),
    hint: 'patch',
  });
  const seq = toTokens(r, patches);
  const cls = g.op('Expand', [
    r.weight(o.classWeight, [1, 1, o.hidden], { std: 0.02 }),
    g.op(
      'Concat',
      [
        g.op('Slice', [g.op('Shape', [x.name]), g.ints('b0', [0]), g.ints('b1', [1])]),
        g.ints('cls_rest', [1, o.hidden]),
      ],
      { axis: { int: 0 } },
    ),
  ]);
  const positionShape = o.position.batched ? [1, tokens, o.hidden] : [tokens, o.hidden];
  return {
    name: g.op('Add', [
      g.op('Concat', [cls, seq.name], { axis: { int: 1 } }),
      r.weight(o.position.weight, positionShape, { std: o.position.std }),
    ]),
    shape: [1, tokens, o.hidden],
  };
}

/** CLIP ViT-B/32 vision tower + projection: pixel_values → image_embeds, last_hidden_state. */
export function clipVisionGraph(r: RealGraph, spec: ClipSpec = CLIP_VIT_B32): void {
  const c = spec.vision_config;
  const g = r.g;
  const S = c.image_size;
  const grid = S / c.patch_size;
  const tokens = grid * grid + 1;
  let h = patchEmbedding(r, {
    channels: 3,
    imageSize: S,
    patch: c.patch_size,
    hidden: c.hidden_size,
    patchBias: false,
    classWeight: 'class_embedding',
    position: { weight: 'position_embedding', batched: false, std: 0.01 },
  });
  h = layerNorm(r, h, c.layer_norm_eps, 'pre_layrnorm');
  for (let i = 0; i < c.num_hidden_layers; i++)
    h = clipEncoderLayer(r, h, {
      heads: c.num_attention_heads,
      mlp: c.intermediate_size,
      act: 'quick_gelu',
      hint: `v${i}`,
    });
  namedOutput(r, h, 'last_hidden_state', ['batch_size', tokens, c.hidden_size]);
  const first = g.op('Squeeze', [
    g.op('Slice', [h.name, g.ints('f0', [0]), g.ints('f1', [1]), g.ints('f_ax', [1])]),
    g.ints('sq1', [1]),
  ]);
  const pooled = layerNorm(
    r,
    { name: first, shape: [1, c.hidden_size] },
    c.layer_norm_eps,
    'post_layernorm',
  );
  const embeds = linear(r, pooled, spec.projection_dim, { bias: false, hint: 'visual_projection' });
  namedOutput(r, embeds, 'image_embeds', ['batch_size', spec.projection_dim]);
}

/**
 * CLIP's causal text transformer: token + position embedding, pre-LN layers under a causal mask,
 * final LayerNorm. Shared by CLIP's text tower and SD 2's text encoder (OpenCLIP ViT-H text).
 */
function causalTextTower(
  r: RealGraph,
  ids64: string,
  c: TextEncoderSpec & { hidden_act: 'gelu' | 'quick_gelu' },
): Val {
  const seqLen = seqLength(r, ids64);
  let h = embedTokens(
    r,
    ids64,
    c.vocab_size,
    c.hidden_size,
    c.max_position_embeddings,
    seqLen,
    'text',
  );
  const mask = causalMask(r, c.max_position_embeddings, seqLen);
  for (let i = 0; i < c.num_hidden_layers; i++)
    h = clipEncoderLayer(r, h, {
      heads: c.num_attention_heads,
      mlp: c.intermediate_size,
      act: c.hidden_act,
      mask,
      hint: `layer${i}`,
    });
  return layerNorm(r, h, c.layer_norm_eps, 'final_layer_norm');
}

/** CLIP ViT-B/32 text tower + projection: input_ids, attention_mask → text_embeds, last_hidden_state. */
export function clipTextGraph(r: RealGraph, spec: ClipSpec = CLIP_VIT_B32): void {
  const c = spec.text_config;
  const g = r.g;
  g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  // Declared as in the export (the tokenizer feeds it); CLIP's causal mask makes padding moot for EOT pooling.
  g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const h = causalTextTower(r, 'input_ids', { ...c, hidden_act: 'quick_gelu' });
  namedOutput(r, h, 'last_hidden_state', ['batch_size', 'sequence_length', c.hidden_size]);
  const pooled = poolAtArgmax(r, h, 'input_ids');
  const embeds = linear(r, pooled, spec.projection_dim, { bias: false, hint: 'text_projection' });
  namedOutput(r, embeds, 'text_embeds', ['batch_size', spec.projection_dim]);
}

/** SD 2.x text encoder: input_ids int32 [B,77] → last_hidden_state [B,77,1024], pooler_output. */
export function sdTextEncoderGraph(r: RealGraph, c: TextEncoderSpec = SD2_TEXT_ENCODER): void {
  const g = r.g;
  g.input('input_ids', 'int32', ['batch', 'sequence']);
  const ids = g.op('Cast', ['input_ids'], { to: { int: ONNX_INT64 } });
  const h = causalTextTower(r, ids, { ...c, hidden_act: 'gelu' });
  namedOutput(r, h, 'last_hidden_state', ['batch', 'sequence', c.hidden_size]);
  namedOutput(r, poolAtArgmax(r, h, ids), 'pooler_output', ['batch', c.hidden_size]);
}

/** diffusers ResnetBlock2D; `temb` (already SiLU'd, [B,1280]) for the UNet, none for the VAE. */
function resnet(
  r: RealGraph,
  x: Val,
  out: number,
  o: { temb?: Val; groups: number; eps: number; hint: string },
): Val {
  let h = conv2d(r, silu(r, groupNorm(r, x, o.groups, o.eps, `${o.hint}_n1`)), out, {
    hint: `${o.hint}_c1`,
  });
  if (o.temb) {
    const t = linear(r, o.temb, out, { hint: `${o.hint}_temb` });
    const t4 = r.g.op('Unsqueeze', [t.name, r.g.ints('ax23', [2, 3])]);
    h = { name: r.g.op('Add', [h.name, t4]), shape: h.shape };
  }
  h = conv2d(r, silu(r, groupNorm(r, h, o.groups, o.eps, `${o.hint}_n2`)), out, {
    hint: `${o.hint}_c2`,
  });
  const skip = x.shape[1] === out ? x : conv2d(r, x, out, { kernel: 1, hint: `${o.hint}_short` });
  return add(r, skip, h);
}

/** diffusers Transformer2DModel with linear projections and one BasicTransformerBlock (GEGLU). */
function spatialTransformer(
  r: RealGraph,
  x: Val,
  ctx: Val,
  heads: number,
  groups: number,
  hint: string,
): Val {
  const c = x.shape[1]!;
  const g = r.g;
  const tokens = toTokens(r, groupNorm(r, x, groups, 1e-6, `${hint}_norm`));
  let h = linear(r, tokens, c, { hint: `${hint}_proj_in` });
  // Self-attention.
  let n = layerNorm(r, h, 1e-5, `${hint}_ln1`);
  let a = attentionCore(
    r,
    linear(r, n, c, { bias: false, hint: `${hint}_a1q` }),
    linear(r, n, c, { bias: false, hint: `${hint}_a1k` }),
    linear(r, n, c, { bias: false, hint: `${hint}_a1v` }),
    heads,
  );
  h = add(r, h, linear(r, a, c, { hint: `${hint}_a1o` }));
  // Cross-attention over the text conditioning.
  n = layerNorm(r, h, 1e-5, `${hint}_ln2`);
  a = attentionCore(
    r,
    linear(r, n, c, { bias: false, hint: `${hint}_a2q` }),
    linear(r, ctx, c, { bias: false, hint: `${hint}_a2k` }),
    linear(r, ctx, c, { bias: false, hint: `${hint}_a2v` }),
    heads,
  );
  h = add(r, h, linear(r, a, c, { hint: `${hint}_a2o` }));
  // GEGLU feed-forward: proj to 2·4C, value · gelu(gate), back to C.
  n = layerNorm(r, h, 1e-5, `${hint}_ln3`);
  const proj = linear(r, n, 8 * c, { hint: `${hint}_ff1` });
  const [value, gate] = g.opMulti(
    'Split',
    [proj.name, g.ints(`${hint}_split`, [4 * c, 4 * c])],
    2,
    { axis: { int: -1 } },
  );
  const half = [...proj.shape.slice(0, -1), 4 * c];
  const gated = {
    name: g.op('Mul', [value!, gelu(r, { name: gate!, shape: half }).name]),
    shape: half,
  };
  h = add(r, h, linear(r, gated, c, { hint: `${hint}_ff2` }));
  h = linear(r, h, c, { hint: `${hint}_proj_out` });
  return add(r, x, toMap(r, h, x));
}

/**
 * SD 2.x UNet2DConditionModel: sample [B,4,h,w], timestep [B], encoder_hidden_states [B,77,1024]
 * → out_sample [B,4,h,w]. Costed at a 64² latent (512² image), batch 1.
 */
export function sdUnetGraph(r: RealGraph, c: UnetSpec = SD2_UNET): void {
  const latent = c.sample_size;
  const g = r.g;
  const groups = c.norm_num_groups;
  const eps = c.norm_eps;
  const sample = floatInput(
    r,
    'sample',
    ['batch', c.in_channels, 'height', 'width'],
    [1, c.in_channels, latent, latent],
  );
  r.g.input('timestep', r.dtype, ['batch']);
  const ctx = floatInput(
    r,
    'encoder_hidden_states',
    ['batch', 'sequence', c.cross_attention_dim],
    [1, 77, c.cross_attention_dim],
  );

  // Sinusoidal timestep embedding (flip_sin_to_cos: [cos, sin]) → linear → SiLU → linear.
  const base = c.block_out_channels[0]!;
  const half = base / 2;
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++)
    freqs[i] = Math.exp((-Math.log(10000) * i) / (half - c.freq_shift));
  const tF =
    r.dtype === 'float32' ? 'timestep' : g.op('Cast', ['timestep'], { to: { int: ONNX_FLOAT } });
  const angles = g.op('Mul', [
    g.op('Unsqueeze', [tF, g.ints('t_ax', [1])]),
    g.floatTensor('freqs', [1, half], freqs),
  ]);
  let tEmb0 = g.op('Concat', [g.op('Cos', [angles]), g.op('Sin', [angles])], { axis: { int: 1 } });
  if (r.dtype === 'float16') tEmb0 = g.op('Cast', [tEmb0], { to: { int: 10 } });
  const tDim = 4 * base;
  const temb = silu(
    r,
    linear(
      r,
      silu(r, linear(r, { name: tEmb0, shape: [1, 2 * half] }, tDim, { hint: 'time_1' })),
      tDim,
      { hint: 'time_2' },
    ),
  );

  let h = conv2d(r, sample, base, { hint: 'conv_in' });
  const skips: Val[] = [h];
  c.block_out_channels.forEach((out, i) => {
    const attn = c.down_block_types[i] === 'CrossAttnDownBlock2D';
    for (let j = 0; j < c.layers_per_block; j++) {
      h = resnet(r, h, out, { temb, groups, eps, hint: `down${i}_res${j}` });
      if (attn)
        h = spatialTransformer(r, h, ctx, c.attention_head_dim[i]!, groups, `down${i}_attn${j}`);
      skips.push(h);
    }
    if (i < c.block_out_channels.length - 1) {
      h = conv2d(r, h, out, { stride: 2, hint: `down${i}_ds` });
      skips.push(h);
    }
  });
  const top = c.block_out_channels.at(-1)!;
  h = resnet(r, h, top, { temb, groups, eps, hint: 'mid_res0' });
  h = spatialTransformer(r, h, ctx, c.attention_head_dim.at(-1)!, groups, 'mid_attn');
  h = resnet(r, h, top, { temb, groups, eps, hint: 'mid_res1' });

  const reversed = [...c.block_out_channels].reverse();
  const heads = [...c.attention_head_dim].reverse();
  reversed.forEach((out, i) => {
    const attn = c.up_block_types[i] === 'CrossAttnUpBlock2D';
    for (let j = 0; j <= c.layers_per_block; j++) {
      h = resnet(r, concatChannels(r, h, skips.pop()!), out, {
        temb,
        groups,
        eps,
        hint: `up${i}_res${j}`,
      });
      if (attn) h = spatialTransformer(r, h, ctx, heads[i]!, groups, `up${i}_attn${j}`);
    }
    if (i < reversed.length - 1) h = conv2d(r, upsample2x(r, h), out, { hint: `up${i}_us` });
  });
  if (skips.length !== 0) throw new Error(`UNet skip connections left over: ${skips.length}`);
  h = conv2d(r, silu(r, groupNorm(r, h, groups, eps, 'norm_out')), c.out_channels, {
    hint: 'conv_out',
  });
  namedOutput(r, h, 'out_sample', ['batch', c.out_channels, 'height', 'width']);
}

/** diffusers' single-head VAE attention block over [B,C,H,W]. */
function vaeAttention(r: RealGraph, x: Val, groups: number, hint: string): Val {
  const c = x.shape[1]!;
  const t = toTokens(r, groupNorm(r, x, groups, 1e-6, `${hint}_norm`));
  const a = attentionCore(
    r,
    linear(r, t, c, { hint: `${hint}_q` }),
    linear(r, t, c, { hint: `${hint}_k` }),
    linear(r, t, c, { hint: `${hint}_v` }),
    1,
  );
  return add(r, x, toMap(r, linear(r, a, c, { hint: `${hint}_o` }), x));
}

/**
 * SD 2.x VAE decoder (post_quant_conv + Decoder, as diffusers' ONNX vae_decoder):
 * latent_sample [B,4,h,w] → sample [B,3,8h,8w]. Costed at a 64² latent.
 */
export function sdVaeDecoderGraph(
  r: RealGraph,
  c: VaeSpec = SD2_VAE,
  latent: number = SD2_UNET.sample_size,
): void {
  const groups = c.norm_num_groups;
  const eps = 1e-6;
  const z = floatInput(
    r,
    'latent_sample',
    ['batch', c.latent_channels, 'height', 'width'],
    [1, c.latent_channels, latent, latent],
  );
  let h = conv2d(r, z, c.latent_channels, { kernel: 1, hint: 'post_quant_conv' });
  const reversed = [...c.block_out_channels].reverse();
  h = conv2d(r, h, reversed[0]!, { hint: 'conv_in' });
  h = resnet(r, h, reversed[0]!, { groups, eps, hint: 'mid_res0' });
  h = vaeAttention(r, h, groups, 'mid_attn');
  h = resnet(r, h, reversed[0]!, { groups, eps, hint: 'mid_res1' });
  reversed.forEach((out, i) => {
    for (let j = 0; j <= c.layers_per_block; j++)
      h = resnet(r, h, out, { groups, eps, hint: `up${i}_res${j}` });
    if (i < reversed.length - 1) h = conv2d(r, upsample2x(r, h), out, { hint: `up${i}_us` });
  });
  h = conv2d(r, silu(r, groupNorm(r, h, groups, eps, 'norm_out')), c.out_channels, {
    hint: 'conv_out',
  });
  namedOutput(r, h, 'sample', ['batch', c.out_channels, 'height_out', 'width_out']);
}

/**
 * The captioner's encoder_model (transformers.js layout of nlpconnect/vit-gpt2-image-captioning):
 * ViT-B/16, pixel_values [B,3,224,224] → last_hidden_state [B,197,768]. Patch embedding (a
 * 16×16 stride-16 convolution with bias), CLS token, learned positions, pre-LN layers with exact
 * GELU and LayerNorm ε 1e-12, final LayerNorm. The pooler is not part of the export.
 */
export function vitEncoderGraph(r: RealGraph, c: VitEncoderSpec = VIT_GPT2.encoder): void {
  const S = c.image_size;
  const grid = S / c.patch_size;
  const tokens = grid * grid + 1;
  let h = patchEmbedding(r, {
    channels: c.num_channels,
    imageSize: S,
    patch: c.patch_size,
    hidden: c.hidden_size,
    patchBias: true,
    classWeight: 'cls_token',
    position: { weight: 'position_embeddings', batched: true, std: 0.02 },
  });
  for (let i = 0; i < c.num_hidden_layers; i++)
    h = clipEncoderLayer(r, h, {
      heads: c.num_attention_heads,
      mlp: c.intermediate_size,
      act: 'gelu',
      eps: c.layer_norm_eps,
      hint: `vit${i}`,
    });
  h = layerNorm(r, h, c.layer_norm_eps, 'vit_layernorm');
  namedOutput(r, h, 'last_hidden_state', ['batch_size', tokens, c.hidden_size]);
}

/** [B,L,C] → [B,heads,L,C/heads]. */
function splitHeads(r: RealGraph, x: Val, heads: number): string {
  const c = x.shape.at(-1)!;
  return r.g.op(
    'Transpose',
    [r.g.op('Reshape', [x.name, r.g.ints('kv_heads', [0, -1, heads, c / heads])])],
    {
      perm: { ints: [0, 2, 1, 3] },
    },
  );
}

/**
 * The captioner's decoder_model_merged, with the inputs and outputs of optimum's merged GPT-2
 * decoder export that transformers.js drives: input_ids [B,T], encoder_hidden_states [B,197,768],
 * past_key_values.{i}.{key,value} [B,12,P,64], use_cache_branch → logits [B,T,50257],
 * present.{i}.{key,value} [B,12,P+T,64]. GPT-2 small with cross-attention in every block:
 * ln_1 → causal self-attention over past ++ new keys (positions P…P+T−1) → ln_cross_attn →
 * cross-attention over the encoder states → ln_2 → MLP (gelu_new) → ln_f → LM head tied to the
 * token embedding. The real export switches between a with-past and a without-past subgraph on
 * use_cache_branch; both compute the same function, so this graph has one path (an empty past
 * when there is none) and takes the flag only to match the export's inputs.
 * Costed for one new token over an empty cache (the first generation step).
 */
export function gpt2DecoderGraph(
  r: RealGraph,
  c: Gpt2DecoderSpec = VIT_GPT2.decoder,
  encoderTokens = (VIT_GPT2.encoder.image_size / VIT_GPT2.encoder.patch_size) ** 2 + 1,
  encoderHidden: number = VIT_GPT2.encoder.hidden_size,
): void {
  const g = r.g;
  const C = c.n_embd;
  const H = c.n_head;
  const d = C / H;
  g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const ehs = floatInput(
    r,
    'encoder_hidden_states',
    ['batch_size', 'encoder_sequence_length', encoderHidden],
    [1, encoderTokens, encoderHidden],
  );
  const pastDims = ['batch_size', H, 'past_decoder_sequence_length', d];
  const presentDims = ['batch_size', H, 'past_decoder_sequence_length + 1', d];
  for (let i = 0; i < c.n_layer; i++)
    for (const kind of ['key', 'value'])
      r.g.input(`past_key_values.${i}.${kind}`, r.dtype, pastDims);
  g.input('use_cache_branch', 'bool', [1]);

  // Positions P … P+T−1 (P = past length), and the additive causal mask [T, P+T] over them.
  const scalarAt = (shapeOf: string, axis: number) =>
    g.op('Squeeze', [
      g.op('Slice', [
        g.op('Shape', [shapeOf]),
        g.ints('dim_from', [axis]),
        g.ints('dim_to', [axis + 1]),
      ]),
      g.ints('dim_sq', [0]),
    ]);
  const T = scalarAt('input_ids', 1);
  const P = scalarAt('past_key_values.0.key', 2);
  const end = g.op('Add', [P, T]);
  const one = g.int64Tensor('step', [], [1]);
  const qPos = g.op('Range', [P, end, one]); // [T]
  const kPos = g.op('Range', [g.int64Tensor('zero', [], [0]), end, one]); // [P+T]
  const future = g.op('Greater', [
    g.op('Unsqueeze', [kPos, g.ints('k_ax', [0])]),
    g.op('Unsqueeze', [qPos, g.ints('q_ax', [1])]),
  ]);
  const mask = g.op('Mul', [
    g.op('Cast', [future], { to: { int: r.dtype === 'float32' ? ONNX_FLOAT : 10 } }),
    r.scalar('masked', -1e4),
  ]);

  const wte = r.weight('wte', [c.vocab_size, C], { std: 0.02 });
  const wpe = r.weight('wpe', [c.n_positions, C], { std: 0.01 });
  let h: Val = {
    name: g.op('Add', [
      g.op('Gather', [wte, 'input_ids'], { axis: { int: 0 } }),
      g.op('Gather', [wpe, g.op('Unsqueeze', [qPos, g.ints('pos_ax', [0])])], { axis: { int: 0 } }),
    ]),
    shape: [1, 1, C],
  };
  const eps = c.layer_norm_epsilon;
  for (let i = 0; i < c.n_layer; i++) {
    const hint = `h${i}`;
    // Causal self-attention with the key/value cache: c_attn → q, k, v.
    const qkv = linear(r, layerNorm(r, h, eps, `${hint}_ln1`), 3 * C, { hint: `${hint}_c_attn` });
    const [q, k, v] = g.opMulti('Split', [qkv.name, g.ints(`${hint}_qkv`, [C, C, C])], 3, {
      axis: { int: -1 },
    });
    const tok = (name: string): Val => ({ name, shape: [1, 1, C] });
    const present = (kind: 'key' | 'value', x: string) =>
      g.op(
        'Concat',
        [`past_key_values.${i}.${kind}`, splitHeads(r, tok(x), H)],
        { axis: { int: 2 } },
        `present.${i}.${kind}`,
      );
    const keys = present('key', k!);
    const values = present('value', v!);
    for (const kind of ['key', 'value']) g.output(`present.${i}.${kind}`, r.dtype, presentDims);
    const scores = g.op('Add', [
      g.op('Mul', [
        g.op('MatMul', [
          splitHeads(r, tok(q!), H),
          g.op('Transpose', [keys], { perm: { ints: [0, 1, 3, 2] } }),
        ]),
        r.scalar('attn_scale', 1 / Math.sqrt(d)),
      ]),
      mask,
    ]);
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), values]);
    const lk = 1; // the costed call: one token over an empty cache
    r.macs += 2 * lk * C;
    r.attentionMacs += 2 * lk * C;
    const merged: Val = {
      name: g.op('Reshape', [
        g.op('Transpose', [ctx], { perm: { ints: [0, 2, 1, 3] } }),
        g.ints('merge_shape', [0, -1, C]),
      ]),
      shape: [1, 1, C],
    };
    h = add(r, h, linear(r, merged, C, { hint: `${hint}_attn_proj` }));
    // Cross-attention: q_attn on the text, c_attn (→ k, v) on the encoder states.
    const cq = linear(r, layerNorm(r, h, eps, `${hint}_ln_cross`), C, { hint: `${hint}_q_attn` });
    const ckv = linear(r, ehs, 2 * C, { hint: `${hint}_cross_c_attn` });
    const [ck, cv] = g.opMulti('Split', [ckv.name, g.ints(`${hint}_kv`, [C, C])], 2, {
      axis: { int: -1 },
    });
    const enc = (name: string): Val => ({ name, shape: [1, encoderTokens, C] });
    const cross = attentionCore(r, cq, enc(ck!), enc(cv!), H);
    h = add(r, h, linear(r, cross, C, { hint: `${hint}_cross_proj` }));
    // MLP.
    const up = linear(r, layerNorm(r, h, eps, `${hint}_ln2`), 4 * C, { hint: `${hint}_c_fc` });
    h = add(r, h, linear(r, geluTanh(r, up), C, { hint: `${hint}_mlp_proj` }));
  }
  h = layerNorm(r, h, eps, 'ln_f');
  // LM head tied to wte: logits = h · wteᵀ (Gemm on [B·T, C]; one copy of the 38.6 M weights).
  const flat = g.op('Reshape', [h.name, g.ints('flat_bt', [-1, C])]);
  const logits2d = g.op('Gemm', [flat, wte], { transB: { int: 1 } });
  r.macs += C * c.vocab_size;
  g.op(
    'Reshape',
    [
      logits2d,
      g.op('Concat', [g.op('Shape', ['input_ids']), g.ints('vocab', [c.vocab_size])], {
        axis: { int: 0 },
      }),
    ],
    {},
    'logits',
  );
  g.output('logits', r.dtype, ['batch_size', 'decoder_sequence_length', c.vocab_size]);
}

export const REAL_GRAPHS: Record<RealModelName, { build: (r: RealGraph) => void; name: string }> = {
  clipVision: { build: (r) => clipVisionGraph(r), name: 'clip_vit_b32_vision' },
  clipText: { build: (r) => clipTextGraph(r), name: 'clip_vit_b32_text' },
  textEncoder: { build: (r) => sdTextEncoderGraph(r), name: 'sd2_text_encoder' },
  unet: { build: (r) => sdUnetGraph(r), name: 'sd2_unet' },
  vaeDecoder: { build: (r) => sdVaeDecoderGraph(r), name: 'sd2_vae_decoder' },
  captionerEncoder: { build: (r) => vitEncoderGraph(r), name: 'vit_b16_encoder' },
  captionerDecoder: { build: (r) => gpt2DecoderGraph(r), name: 'gpt2_decoder_merged' },
};

/** Parameters and MACs per call of one graph, from the graph's own construction, without weights. */
export function realGraphCost(model: RealModelName, dtype: RealDType = 'float32'): GraphCost {
  const r = new RealGraph(REAL_GRAPHS[model].name, dtype, { kind: 'count' });
  REAL_GRAPHS[model].build(r);
  return { params: r.params, macs: r.macs, attentionMacs: r.attentionMacs };
}

export type { WeightMode };
