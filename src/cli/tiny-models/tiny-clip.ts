import { clipTokenizer } from './bpe-tokenizer';
import { COLOUR_PROTOTYPES } from './colour-prototypes';
import { dense } from './graph-layers';
import { type FolderFiles, TINY_MARKER_KEY, jsonBytes, tinyMarker } from './model-folder';
import { OnnxGraph } from './onnx-graph';
import { SeededRandom } from './seeded-random';
import type { TinyModelOptions } from './tiny-model-options';
import { TINY_WORDS } from './tiny-vocabulary';

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
const PATCH = 32;
/** Side of the pooling grid whose colour means and spreads make the image features. */
const GRID = 4;
const MAX_POSITIONS = 77;

/** How strongly colour words carry their colour, so "a photo of red" still lands near red images. */
const TEXT_COLOUR_GAIN = 4;

function clipNormalized(rgb: readonly number[]): number[] {
  return rgb.map((c, i) => (c - CLIP_MEAN[i]!) / CLIP_STD[i]!);
}

/**
 * Vision tower: pixel_values [B,3,S,S] → image_embeds [B,P] and last_hidden_state [B,1+(S/32)²,Hv].
 * image_embeds is a fixed projection of colour statistics (mean RGB, a 4×4 grid of means and
 * spreads), so near-identical images embed close together and different colours apart.
 */
function visionModel(o: TinyModelOptions, hidden: number, colourDirs: Float32Array): Uint8Array {
  const rng = new SeededRandom(o.seed, 'clip-vision');
  const S = o.imageSize;
  const P = o.projectionDim;
  const g = new OnnxGraph('clip_vision_tiny');
  const x = g.input('pixel_values', 'float32', ['batch_size', 3, S, S]);

  const cell = S / GRID;
  const pool = { kernel_shape: { ints: [cell, cell] }, strides: { ints: [cell, cell] } };
  const means = g.op('AveragePool', [x], pool); // [B,3,4,4]
  const meanSq = g.op('AveragePool', [g.op('Mul', [x, x])], pool);
  const variance = g.op('Relu', [g.op('Sub', [meanSq, g.op('Mul', [means, means])])]);
  const spread = g.op('Sqrt', [g.op('Add', [variance, g.scalar('eps', 1e-6)])]);
  const meanRgb = g.op('ReduceMean', [means], { axes: { ints: [2, 3] }, keepdims: { int: 0 } }); // [B,3]
  const flat = g.ints('flat', [0, -1]);
  const features = g.op(
    'Concat',
    [g.op('Reshape', [means, flat]), g.op('Reshape', [spread, flat])],
    { axis: { int: 1 } },
  );
  const nFeatures = 6 * GRID * GRID;
  const colourPart = g.op('MatMul', [meanRgb, g.floatTensor('colour_dirs', [3, P], colourDirs)]);
  const texturePart = dense(g, rng, features, nFeatures, P, {
    gain: 0.3,
    bias: false,
    hint: 'feature_proj',
  });
  g.op('Add', [colourPart, texturePart], {}, 'image_embeds');
  g.output('image_embeds', 'float32', ['batch_size', P]);

  // Patch tokens as a ViT-B/32 would lay them out: a CLS token, then (S/32)² patches.
  const nPatches = (S / PATCH) ** 2;
  const fanIn = 3 * PATCH * PATCH;
  const patchW = g.floatTensor(
    'patch_w',
    [hidden, 3, PATCH, PATCH],
    rng.normals(hidden * fanIn, 1 / Math.sqrt(fanIn)),
  );
  const patches = g.op('Conv', [x, patchW], {
    kernel_shape: { ints: [PATCH, PATCH] },
    strides: { ints: [PATCH, PATCH] },
  });
  const tokens = g.op(
    'Transpose',
    [g.op('Reshape', [patches, g.ints('tok_shape', [0, hidden, -1])])],
    { perm: { ints: [0, 2, 1] } },
  );
  const cls = g.op('ReduceMean', [tokens], { axes: { ints: [1] }, keepdims: { int: 1 } });
  const seq = g.op('Concat', [cls, tokens], { axis: { int: 1 } });
  const pos = g.floatTensor(
    'pos',
    [nPatches + 1, hidden],
    rng.normals((nPatches + 1) * hidden, 0.02),
  );
  g.op('Add', [seq, pos], {}, 'last_hidden_state');
  g.output('last_hidden_state', 'float32', ['batch_size', nPatches + 1, hidden]);
  return g.toBytes(
    'FGL tiny CLIP vision tower (colour statistics → fixed projection). Not a real model.',
  );
}

/**
 * Text tower: input_ids, attention_mask [B,T] int64 → text_embeds [B,P] (masked mean of token
 * embeddings, projected) and last_hidden_state [B,T,Ht]. Colour words' embeddings share the vision
 * tower's colour directions, so "red" scores highest against red images.
 */
function textModel(
  o: TinyModelOptions,
  hidden: number,
  vocabSize: number,
  colourTokens: Map<number, number[]>,
  colourDirs: Float32Array,
): Uint8Array {
  const rng = new SeededRandom(o.seed, 'clip-text');
  const P = o.projectionDim;
  const g = new OnnxGraph('clip_text_tiny');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);

  // Embedding rows: dims 0..2 are the colour axis (zero unless the token is a colour word).
  const emb = rng.normals(vocabSize * hidden, 0.3);
  for (let t = 0; t < vocabSize; t++) {
    const rgb = colourTokens.get(t);
    for (let c = 0; c < 3; c++) emb[t * hidden + c] = rgb ? rgb[c]! * TEXT_COLOUR_GAIN : 0;
  }
  const embedded = g.op(
    'Gather',
    [g.floatTensor('token_embedding', [vocabSize, hidden], emb), ids],
    { axis: { int: 0 } },
  );

  const maskF = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: 1 } }), g.ints('ax2', [2])]); // [B,T,1]
  const axis1 = g.ints('ax1', [1]);
  const summed = g.op('ReduceSum', [g.op('Mul', [embedded, maskF]), axis1], {
    keepdims: { int: 0 },
  });
  const count = g.op('Max', [
    g.op('ReduceSum', [maskF, axis1], { keepdims: { int: 0 } }),
    g.scalar('one', 1),
  ]);
  const pooled = g.op('Div', [summed, count]); // [B,Ht]

  // Projection: rows 0..2 are the shared colour directions, the rest random.
  const proj = rng.normals(hidden * P, 1 / Math.sqrt(hidden));
  proj.set(colourDirs, 0);
  g.op('MatMul', [pooled, g.floatTensor('text_projection', [hidden, P], proj)], {}, 'text_embeds');
  g.output('text_embeds', 'float32', ['batch_size', P]);

  const seqLen = g.op('Slice', [g.op('Shape', [ids]), axis1, g.ints('two', [2])]);
  const posTable = g.floatTensor(
    'position_embedding',
    [MAX_POSITIONS, hidden],
    rng.normals(MAX_POSITIONS * hidden, 0.02),
  );
  const pos = g.op('Slice', [posTable, g.ints('zero', [0]), seqLen, g.ints('ax0', [0])]);
  g.op('Add', [embedded, pos], {}, 'last_hidden_state');
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', hidden]);
  return g.toBytes('FGL tiny CLIP text tower (embedding bag → projection). Not a real model.');
}

/** The `Xenova/clip-vit-base-patch32` layout with tiny weights. */
export function tinyClipFiles(o: TinyModelOptions): FolderFiles {
  const textHidden = o.preset === 'bench' ? 512 : 32;
  const visionHidden = o.preset === 'bench' ? 768 : 32;
  const tok = clipTokenizer(TINY_WORDS, '<|endoftext|>');
  const colourDirs = new SeededRandom(o.seed, 'clip-shared').normals(3 * o.projectionDim, 1);
  const colourTokens = new Map<number, number[]>();
  for (const c of COLOUR_PROTOTYPES)
    colourTokens.set(tok.vocab[`${c.name}</w>`]!, clipNormalized(c.rgb));

  const common = {
    num_hidden_layers: 1,
    num_attention_heads: 2,
    hidden_act: 'quick_gelu',
    projection_dim: o.projectionDim,
  };
  const config = {
    [TINY_MARKER_KEY]: tinyMarker(o),
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: o.projectionDim,
    logit_scale_init_value: 2.6592,
    text_config: {
      ...common,
      model_type: 'clip_text_model',
      hidden_size: textHidden,
      intermediate_size: textHidden * 4,
      max_position_embeddings: MAX_POSITIONS,
      vocab_size: tok.vocabSize,
      bos_token_id: tok.bosId,
      eos_token_id: tok.eosId,
      pad_token_id: tok.padId,
    },
    vision_config: {
      ...common,
      model_type: 'clip_vision_model',
      hidden_size: visionHidden,
      intermediate_size: visionHidden * 4,
      image_size: o.imageSize,
      patch_size: PATCH,
      num_channels: 3,
    },
    torch_dtype: 'float32',
    transformers_version: '4.40.0',
  };
  const preprocessor = {
    crop_size: { height: o.imageSize, width: o.imageSize },
    do_center_crop: true,
    do_convert_rgb: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [...CLIP_MEAN],
    image_std: [...CLIP_STD],
    image_processor_type: 'CLIPImageProcessor',
    feature_extractor_type: 'CLIPFeatureExtractor',
    resample: 3,
    rescale_factor: 1 / 255,
    size: { shortest_edge: o.imageSize },
  };
  return new Map([
    ['config.json', jsonBytes(config)],
    ['preprocessor_config.json', jsonBytes(preprocessor)],
    ['tokenizer.json', jsonBytes(tok.tokenizer)],
    ['tokenizer_config.json', jsonBytes(tok.tokenizerConfig)],
    ['special_tokens_map.json', jsonBytes(tok.specialTokensMap)],
    ['vocab.json', jsonBytes(tok.vocab)],
    ['merges.txt', new TextEncoder().encode(tok.mergesTxt)],
    ['onnx/text_model.onnx', textModel(o, textHidden, tok.vocabSize, colourTokens, colourDirs)],
    ['onnx/vision_model.onnx', visionModel(o, visionHidden, colourDirs)],
  ]);
}
