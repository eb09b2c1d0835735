import { gpt2Tokenizer, tokenId } from './bpe-tokenizer';
import { COLOUR_PROTOTYPES } from './colour-prototypes';
import { type FolderFiles, TINY_MARKER_KEY, jsonBytes, tinyMarker } from './model-folder';
import { OnnxGraph } from './onnx-graph';
import { SeededRandom } from './seeded-random';
import type { TinyModelOptions } from './tiny-model-options';
import { TINY_WORDS } from './tiny-vocabulary';

const PATCH = 32;
/** Encoder hidden dims 0..3 carry exact colour statistics the decoder reads back. */
const STAT_DIMS = 4;
/** Average per-channel pixel variance (pixels in [-1, 1]) above which an image counts as textured. */
const TEXTURE_THRESHOLD = 0.01;
const COLOUR_SHARPNESS = 4;
const TEXTURE_SHARPNESS = 400;
const BLOCKED = -1e4;

type Dims = { hidden: number; heads: number; layers: number; encoderHidden: number };

/** Captions read "a {plain|textured} {colour} image": a 5-state chain driven by the previous token. */
enum State {
  Start = 0,
  AfterA = 1,
  AfterTexture = 2,
  AfterColour = 3,
  End = 4,
}

/**
 * encoder_model: pixel_values [B,3,S,S] (ViT-normalized to [-1, 1]) → last_hidden_state [B,1+N,H].
 * Per patch, dims 0..2 are the mean RGB and dim 3 the mean squared value (fixed kernels); the rest
 * is a random patch embedding. The CLS row is the mean of the patch rows.
 */
function encoder(o: TinyModelOptions, d: Dims): Uint8Array {
  const rng = new SeededRandom(o.seed, 'captioner-encoder');
  const S = o.imageSize;
  const H = d.encoderHidden;
  const nPatches = (S / PATCH) ** 2;
  const g = new OnnxGraph('vit_encoder_tiny');
  const x = g.input('pixel_values', 'float32', ['batch_size', 3, S, S]);
  const conv = { kernel_shape: { ints: [PATCH, PATCH] }, strides: { ints: [PATCH, PATCH] } };

  const area = PATCH * PATCH;
  const fixed = new Float32Array(STAT_DIMS * 6 * area);
  for (let c = 0; c < 3; c++) {
    fixed.fill(1 / area, (c * 6 + c) * area, (c * 6 + c + 1) * area); // mean of channel c
    fixed.fill(1 / (3 * area), (3 * 6 + 3 + c) * area, (3 * 6 + 4 + c) * area); // mean of x² over channels
  }
  const withSquares = g.op('Concat', [x, g.op('Mul', [x, x])], { axis: { int: 1 } });
  const stats = g.op(
    'Conv',
    [withSquares, g.floatTensor('stat_kernel', [STAT_DIMS, 6, PATCH, PATCH], fixed)],
    conv,
  );
  const randW = g.floatTensor(
    'patch_w',
    [H - STAT_DIMS, 3, PATCH, PATCH],
    rng.normals((H - STAT_DIMS) * 3 * area, 1 / Math.sqrt(3 * area)),
  );
  const random = g.op('Tanh', [g.op('Conv', [x, randW], conv)]);
  const grid = g.op('Concat', [stats, random], { axis: { int: 1 } });
  const tokens = g.op('Transpose', [g.op('Reshape', [grid, g.ints('tok_shape', [0, H, -1])])], {
    perm: { ints: [0, 2, 1] },
  });
  const cls = g.op('ReduceMean', [tokens], { axes: { ints: [1] }, keepdims: { int: 1 } });
  g.op('Concat', [cls, tokens], { axis: { int: 1 } }, 'last_hidden_state');
  g.output('last_hidden_state', 'float32', ['batch_size', nPatches + 1, H]);
  return g.toBytes('FGL tiny ViT encoder (patch colour statistics). Not a real model.');
}

/**
 * decoder_model_merged, with the inputs and outputs of optimum's merged GPT-2 decoder export:
 * input_ids, encoder_hidden_states, past_key_values.{i}.{key,value}, use_cache_branch →
 * logits, present.{i}.{key,value}. Logits depend on the previous token (which slot of the caption
 * comes next) and on the encoder's colour statistics (which word fills it). The cache is real:
 * present = past ++ this step's keys/values, so its length grows by one per generated token.
 */
function decoder(o: TinyModelOptions, d: Dims, vocabSize: number, ids: CaptionTokens): Uint8Array {
  const rng = new SeededRandom(o.seed, 'captioner-decoder');
  const V = vocabSize;
  const headDim = d.hidden / d.heads;
  const g = new OnnxGraph('gpt2_decoder_tiny');
  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'decoder_sequence_length']);
  const ehs = g.input('encoder_hidden_states', 'float32', [
    'batch_size',
    'encoder_sequence_length',
    d.encoderHidden,
  ]);
  const pastDims = ['batch_size', d.heads, 'past_decoder_sequence_length', headDim];
  const presentDims = ['batch_size', d.heads, 'past_decoder_sequence_length + 1', headDim];
  for (let i = 0; i < d.layers; i++) {
    g.input(`past_key_values.${i}.key`, 'float32', pastDims);
    g.input(`past_key_values.${i}.value`, 'float32', pastDims);
  }
  // The real merged export switches subgraphs on this flag; here the cache path is the same either way.
  g.input('use_cache_branch', 'bool', [1]);

  const splitHeads = g.ints('split_heads', [0, 0, d.heads, headDim]);
  for (let i = 0; i < d.layers; i++) {
    for (const kind of ['key', 'value']) {
      const table = g.floatTensor(
        `${kind}_embedding${i}`,
        [V, d.hidden],
        rng.normals(V * d.hidden, 0.1),
      );
      const step = g.op(
        'Transpose',
        [g.op('Reshape', [g.op('Gather', [table, inputIds], { axis: { int: 0 } }), splitHeads])],
        {
          perm: { ints: [0, 2, 1, 3] },
        },
      );
      g.op(
        'Concat',
        [`past_key_values.${i}.${kind}`, step],
        { axis: { int: 2 } },
        `present.${i}.${kind}`,
      );
      g.output(`present.${i}.${kind}`, 'float32', presentDims);
    }
  }

  // Slot logits from the previous token's state.
  const stateOf = new Array<number>(V).fill(State.End);
  stateOf[ids.eos] = State.Start;
  stateOf[ids.a] = State.AfterA;
  for (const t of ids.textures) stateOf[t] = State.AfterTexture;
  for (const t of ids.colours) stateOf[t] = State.AfterColour;
  const nStates = 5;
  const slot = new Float32Array(nStates * V).fill(BLOCKED);
  const allow = (s: State, t: number) => (slot[s * V + t] = 0);
  allow(State.Start, ids.a);
  for (const t of ids.textures) allow(State.AfterA, t);
  for (const t of ids.colours) allow(State.AfterTexture, t);
  allow(State.AfterColour, ids.image);
  allow(State.End, ids.eos);
  const state = g.op('Gather', [g.int64Tensor('state_of_token', [V], stateOf), inputIds], {
    axis: { int: 0 },
  }); // [B,T]
  const slotLogits = g.op('Gather', [g.floatTensor('slot_logits', [nStates, V], slot), state], {
    axis: { int: 0 },
  }); // [B,T,V]
  const gate = (s: State, hint: string) => {
    const v = new Float32Array(nStates);
    v[s] = 1;
    return g.op('Gather', [g.floatTensor(hint, [nStates, 1], v), state], { axis: { int: 0 } }); // [B,T,1]
  };

  // Image statistics from the encoder: mean RGB and the average per-channel variance.
  const ax2 = g.ints('ax2', [2]);
  const mu = g.op(
    'ReduceMean',
    [g.op('Slice', [ehs, g.ints('s0', [0]), g.ints('s4', [STAT_DIMS]), ax2])],
    {
      axes: { ints: [1] },
      keepdims: { int: 1 },
    },
  ); // [B,1,4]
  const rgb = g.op('Slice', [mu, g.ints('r0', [0]), g.ints('r3', [3]), ax2]);
  const meanSq = g.op('Slice', [mu, g.ints('q3', [3]), g.ints('q4', [4]), ax2]);
  const variance = g.op('Sub', [
    meanSq,
    g.op('ReduceMean', [g.op('Mul', [rgb, rgb])], { axes: { ints: [2] }, keepdims: { int: 1 } }),
  ]);

  // Colour word scores: −β‖rgb − prototype‖², dropping the ‖rgb‖² term every colour shares.
  const K = COLOUR_PROTOTYPES.length;
  const w = new Float32Array(3 * K);
  const b = new Float32Array(K);
  COLOUR_PROTOTYPES.forEach((c, k) => {
    const p = c.rgb.map((v) => 2 * v - 1);
    p.forEach((v, ch) => (w[ch * K + k] = 2 * COLOUR_SHARPNESS * v));
    b[k] = -COLOUR_SHARPNESS * p.reduce((s, v) => s + v * v, 0);
  });
  const scatter = (hint: string, tokens: readonly number[]) => {
    const m = new Float32Array(tokens.length * V);
    tokens.forEach((t, i) => (m[i * V + t] = 1));
    return g.floatTensor(hint, [tokens.length, V], m);
  };
  const colourScores = g.op('Add', [
    g.op('MatMul', [rgb, g.floatTensor('colour_w', [3, K], w)]),
    g.floatTensor('colour_b', [K], b),
  ]);
  const colourLogits = g.op('MatMul', [colourScores, scatter('colour_tokens', ids.colours)]); // [B,1,V]
  const textureScores = g.op('Add', [
    g.op('MatMul', [
      variance,
      g.floatTensor('texture_w', [1, 2], Float32Array.of(-TEXTURE_SHARPNESS, TEXTURE_SHARPNESS)),
    ]),
    g.floatTensor(
      'texture_b',
      [2],
      Float32Array.of(
        TEXTURE_SHARPNESS * TEXTURE_THRESHOLD,
        -TEXTURE_SHARPNESS * TEXTURE_THRESHOLD,
      ),
    ),
  ]);
  const textureLogits = g.op('MatMul', [textureScores, scatter('texture_tokens', ids.textures)]);

  g.op(
    'Add',
    [
      slotLogits,
      g.op('Add', [
        g.op('Mul', [gate(State.AfterA, 'gate_texture'), textureLogits]),
        g.op('Mul', [gate(State.AfterTexture, 'gate_colour'), colourLogits]),
      ]),
    ],
    {},
    'logits',
  );
  g.output('logits', 'float32', ['batch_size', 'decoder_sequence_length', V]);
  return g.toBytes(
    'FGL tiny GPT-2 decoder ("a {plain|textured} {colour} image"). Not a real model.',
  );
}

type CaptionTokens = {
  eos: number;
  a: number;
  image: number;
  textures: number[];
  colours: number[];
};

/** The `Xenova/vit-gpt2-image-captioning` layout with tiny weights; captions read "a plain red image". */
export function tinyCaptionerFiles(o: TinyModelOptions): FolderFiles {
  const d: Dims =
    o.preset === 'bench'
      ? { hidden: 768, heads: 12, layers: 2, encoderHidden: 768 }
      : { hidden: 32, heads: 2, layers: 2, encoderHidden: 32 };
  const tok = gpt2Tokenizer(TINY_WORDS);
  const ids: CaptionTokens = {
    eos: tok.eosId,
    a: tokenId(tok, 'a'),
    image: tokenId(tok, ' image'),
    textures: [tokenId(tok, ' plain'), tokenId(tok, ' textured')],
    colours: COLOUR_PROTOTYPES.map((c) => tokenId(tok, ` ${c.name}`)),
  };
  const special = {
    bos_token_id: tok.eosId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.eosId,
    decoder_start_token_id: tok.eosId,
  };
  const config = {
    [TINY_MARKER_KEY]: tinyMarker(o),
    architectures: ['VisionEncoderDecoderModel'],
    model_type: 'vision-encoder-decoder',
    is_encoder_decoder: true,
    tie_word_embeddings: false,
    ...special,
    encoder: {
      model_type: 'vit',
      architectures: ['ViTModel'],
      hidden_size: d.encoderHidden,
      image_size: o.imageSize,
      patch_size: PATCH,
      num_channels: 3,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 4 * d.encoderHidden,
    },
    decoder: {
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      add_cross_attention: true,
      is_decoder: true,
      n_embd: d.hidden,
      n_head: d.heads,
      n_layer: d.layers,
      n_positions: 1024,
      n_ctx: 1024,
      vocab_size: tok.vocabSize,
      ...special,
    },
    transformers_version: '4.40.0',
  };
  const generation = {
    _from_model_config: true,
    ...special,
    max_length: 16,
    transformers_version: '4.40.0',
  };
  const preprocessor = {
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    image_processor_type: 'ViTImageProcessor',
    feature_extractor_type: 'ViTFeatureExtractor',
    resample: 2,
    rescale_factor: 1 / 255,
    size: { height: o.imageSize, width: o.imageSize },
  };
  return new Map([
    ['config.json', jsonBytes(config)],
    ['generation_config.json', jsonBytes(generation)],
    ['preprocessor_config.json', jsonBytes(preprocessor)],
    ['tokenizer.json', jsonBytes(tok.tokenizer)],
    ['tokenizer_config.json', jsonBytes(tok.tokenizerConfig)],
    ['special_tokens_map.json', jsonBytes(tok.specialTokensMap)],
    ['vocab.json', jsonBytes(tok.vocab)],
    ['merges.txt', new TextEncoder().encode(tok.mergesTxt)],
    ['onnx/encoder_model.onnx', encoder(o, d)],
    ['onnx/decoder_model_merged.onnx', decoder(o, d, tok.vocabSize, ids)],
  ]);
}
