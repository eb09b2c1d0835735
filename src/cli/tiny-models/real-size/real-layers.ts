import type { RealGraph, Val } from './real-graph';

/**
 * The layers of CLIP and Stable Diffusion as ONNX nodes, each counting its parameters and
 * multiply-accumulates (matmuls, convolutions, attention products; not norms or activations, as
 * fvcore / torch's FlopCounterMode count) on `RealGraph`. Shapes are [B, L, C] for tokens and
 * [B, C, H, W] for feature maps; B, L, H and W stay symbolic in the ONNX graph.
 */

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** x @ W (+ b): W [in, out], std 1/√in. */
export function linear(
  r: RealGraph,
  x: Val,
  out: number,
  opts: { bias?: boolean; hint?: string } = {},
): Val {
  const inDim = x.shape.at(-1)!;
  const hint = opts.hint ?? 'linear';
  const w = r.weight(`${hint}_w`, [inDim, out], { std: 1 / Math.sqrt(inDim) });
  r.macs += prod(x.shape.slice(0, -1)) * inDim * out;
  let y = r.g.op('MatMul', [x.name, w]);
  if (opts.bias !== false) y = r.g.op('Add', [y, r.weight(`${hint}_b`, [out], { std: 0.02 })]);
  return { name: y, shape: [...x.shape.slice(0, -1), out] };
}

export function conv2d(
  r: RealGraph,
  x: Val,
  out: number,
  opts: { kernel?: number; stride?: number; pad?: number; bias?: boolean; hint?: string } = {},
): Val {
  const [b, inCh, h, w] = x.shape as [number, number, number, number];
  const k = opts.kernel ?? 3;
  const stride = opts.stride ?? 1;
  const pad = opts.pad ?? (k - 1) / 2;
  const hint = opts.hint ?? 'conv';
  const weight = r.weight(`${hint}_w`, [out, inCh, k, k], { std: 1 / Math.sqrt(inCh * k * k) });
  const inputs = [x.name, weight];
  if (opts.bias !== false) inputs.push(r.weight(`${hint}_b`, [out], { std: 0.02 }));
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  r.macs += b * ho * wo * out * inCh * k * k;
  const y = r.g.op('Conv', inputs, {
    kernel_shape: { ints: [k, k] },
    strides: { ints: [stride, stride] },
    pads: { ints: [pad, pad, pad, pad] },
  });
  return { name: y, shape: [b, out, ho, wo] };
}

export function layerNorm(r: RealGraph, x: Val, eps = 1e-5, hint = 'ln'): Val {
  const c = x.shape.at(-1)!;
  const y = r.g.op(
    'LayerNormalization',
    [x.name, r.weight(`${hint}_g`, [c], { fill: 1 }), r.weight(`${hint}_b`, [c], { fill: 0 })],
    { axis: { int: -1 }, epsilon: { float: eps } },
  );
  return { name: y, shape: x.shape };
}

/** GroupNorm as torch exports it: InstanceNormalization over [B, G, C/G·H·W], then the affine. */
export function groupNorm(r: RealGraph, x: Val, groups = 32, eps = 1e-6, hint = 'gn'): Val {
  const c = x.shape[1]!;
  const g = r.g;
  const grouped = g.op('Reshape', [x.name, g.ints(`${hint}_grp`, [0, groups, -1])]);
  const normed = g.op(
    'InstanceNormalization',
    [
      grouped,
      r.constant(`${hint}_one`, [groups], new Float32Array(groups).fill(1)),
      r.constant(`${hint}_zero`, [groups], new Float32Array(groups)),
    ],
    { epsilon: { float: eps } },
  );
  const back = g.op('Reshape', [normed, g.op('Shape', [x.name])]);
  const y = g.op('Add', [
    g.op('Mul', [back, r.weight(`${hint}_g`, [c, 1, 1], { fill: 1 })]),
    r.weight(`${hint}_b`, [c, 1, 1], { fill: 0 }),
  ]);
  return { name: y, shape: x.shape };
}

export function silu(r: RealGraph, x: Val): Val {
  return { name: r.g.op('Mul', [x.name, r.g.op('Sigmoid', [x.name])]), shape: x.shape };
}

/** Exact GELU, x · ½(1 + erf(x/√2)) (ORT fuses it into one Gelu kernel). */
export function gelu(r: RealGraph, x: Val): Val {
  const g = r.g;
  const erf = g.op('Erf', [g.op('Mul', [x.name, r.scalar('inv_sqrt2', Math.SQRT1_2)])]);
  const y = g.op('Mul', [
    g.op('Mul', [x.name, r.scalar('half', 0.5)]),
    g.op('Add', [erf, r.scalar('one', 1)]),
  ]);
  return { name: y, shape: x.shape };
}

/** GPT-2's gelu_new, ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(r: RealGraph, x: Val): Val {
  const g = r.g;
  const cube = g.op('Mul', [x.name, g.op('Mul', [x.name, x.name])]);
  const inner = g.op('Mul', [
    g.op('Add', [x.name, g.op('Mul', [cube, r.scalar('gelu_c', 0.044715)])]),
    r.scalar('sqrt_2_pi', Math.sqrt(2 / Math.PI)),
  ]);
  const y = g.op('Mul', [
    g.op('Mul', [x.name, r.scalar('half', 0.5)]),
    g.op('Add', [g.op('Tanh', [inner]), r.scalar('one', 1)]),
  ]);
  return { name: y, shape: x.shape };
}

/** CLIP's quick_gelu, x · sigmoid(1.702 x). */
export function quickGelu(r: RealGraph, x: Val): Val {
  const g = r.g;
  const y = g.op('Mul', [x.name, g.op('Sigmoid', [g.op('Mul', [x.name, r.scalar('qg', 1.702)])])]);
  return { name: y, shape: x.shape };
}

export function add(r: RealGraph, a: Val, b: Val): Val {
  return { name: r.g.op('Add', [a.name, b.name]), shape: a.shape };
}

/**
 * Scaled dot-product attention over already-projected q [B,Lq,C], k and v [B,Lk,C], `heads` heads;
 * `mask` (additive, broadcast to [.., Lq, Lk]) for causal text encoders.
 */
export function attentionCore(
  r: RealGraph,
  q: Val,
  k: Val,
  v: Val,
  heads: number,
  mask?: string,
): Val {
  const g = r.g;
  const [b, lq, c] = q.shape as [number, number, number];
  const lk = k.shape[1]!;
  const d = c / heads;
  const split = g.ints('heads_shape', [0, -1, heads, d]);
  const qh = g.op('Transpose', [g.op('Reshape', [q.name, split])], {
    perm: { ints: [0, 2, 1, 3] },
  });
  const kT = g.op('Transpose', [g.op('Reshape', [k.name, split])], {
    perm: { ints: [0, 2, 3, 1] },
  });
  const vh = g.op('Transpose', [g.op('Reshape', [v.name, split])], {
    perm: { ints: [0, 2, 1, 3] },
  });
  let scores = g.op('Mul', [g.op('MatMul', [qh, kT]), r.scalar('attn_scale', 1 / Math.sqrt(d))]);
  if (mask) scores = g.op('Add', [scores, mask]);
  const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), vh]);
  r.macs += 2 * b * lq * lk * c;
  r.attentionMacs += 2 * b * lq * lk * c;
  const merged = g.op('Reshape', [
    g.op('Transpose', [ctx], { perm: { ints: [0, 2, 1, 3] } }),
    g.ints('merge_shape', [0, -1, c]),
  ]);
  return { name: merged, shape: [b, lq, c] };
}

/** [B,C,H,W] → [B,H·W,C]. */
export function toTokens(r: RealGraph, x: Val): Val {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const flat = r.g.op('Reshape', [x.name, r.g.ints('flat_hw', [0, c, -1])]);
  return { name: r.g.op('Transpose', [flat], { perm: { ints: [0, 2, 1] } }), shape: [b, h * w, c] };
}

/** [B,H·W,C] → the shape of `like` ([B,C,H,W]). */
export function toMap(r: RealGraph, x: Val, like: Val): Val {
  const t = r.g.op('Transpose', [x.name], { perm: { ints: [0, 2, 1] } });
  return { name: r.g.op('Reshape', [t, r.g.op('Shape', [like.name])]), shape: like.shape };
}

/** Nearest ×2 upsampling, as diffusers' Upsample2D before its conv. */
export function upsample2x(r: RealGraph, x: Val): Val {
  const [b, c, h, w] = x.shape as [number, number, number, number];
  const y = r.g.op(
    'Resize',
    [x.name, '', r.g.floatTensor('up2', [4], Float32Array.of(1, 1, 2, 2))],
    { mode: { string: 'nearest' } },
  );
  return { name: y, shape: [b, c, 2 * h, 2 * w] };
}

export function concatChannels(r: RealGraph, a: Val, b: Val): Val {
  const y = r.g.op('Concat', [a.name, b.name], { axis: { int: 1 } });
  const [n, c1, h, w] = a.shape as [number, number, number, number];
  return { name: y, shape: [n, c1 + b.shape[1]!, h, w] };
}

/** A pre-LN transformer encoder layer as in CLIP (both towers and OpenCLIP's text encoder) and ViT. */
export function clipEncoderLayer(
  r: RealGraph,
  x: Val,
  o: {
    heads: number;
    mlp: number;
    act: 'gelu' | 'quick_gelu';
    mask?: string;
    hint: string;
    eps?: number;
  },
): Val {
  const c = x.shape.at(-1)!;
  const eps = o.eps ?? 1e-5;
  const h1 = layerNorm(r, x, eps, `${o.hint}_ln1`);
  const q = linear(r, h1, c, { hint: `${o.hint}_q` });
  const k = linear(r, h1, c, { hint: `${o.hint}_k` });
  const v = linear(r, h1, c, { hint: `${o.hint}_v` });
  const attn = linear(r, attentionCore(r, q, k, v, o.heads, o.mask), c, { hint: `${o.hint}_o` });
  const x1 = add(r, x, attn);
  const h2 = layerNorm(r, x1, eps, `${o.hint}_ln2`);
  const up = linear(r, h2, o.mlp, { hint: `${o.hint}_fc1` });
  const act = o.act === 'gelu' ? gelu(r, up) : quickGelu(r, up);
  return add(r, x1, linear(r, act, c, { hint: `${o.hint}_fc2` }));
}

/**
 * An additive causal mask [T, T] (0 on and below the diagonal, −∞-ish above) sliced from a
 * [maxLen, maxLen] table to the run's sequence length.
 */
export function causalMask(r: RealGraph, maxLen: number, seqLen: string): string {
  const table = new Float32Array(maxLen * maxLen);
  // −1e4 rather than −∞: exact in float16 too, and softmax still gives those positions 0.
  for (let i = 0; i < maxLen; i++)
    for (let j = i + 1; j < maxLen; j++) table[i * maxLen + j] = -1e4;
  const g = r.g;
  const zeros = g.ints('mask_from', [0, 0]);
  const ends = g.op('Concat', [seqLen, seqLen], { axis: { int: 0 } });
  return g.op('Slice', [
    r.constant('causal_mask', [maxLen, maxLen], table),
    zeros,
    ends,
    g.ints('mask_axes', [0, 1]),
  ]);
}

/** The hidden state at each row's highest token id (CLIP's end-of-text pooling): [B,T,C] → [B,C]. */
export function poolAtArgmax(r: RealGraph, hidden: Val, ids64: string): Val {
  const g = r.g;
  const [b, , c] = hidden.shape as [number, number, number];
  // ArgMax over float ids (exact below 2²⁴): ORT's CPU ArgMax has no int64 kernel.
  const idsF = g.op('Cast', [ids64], { to: { int: 1 } });
  const at = g.op('ArgMax', [idsF], { axis: { int: 1 }, keepdims: { int: 1 } }); // [B,1]
  const batch = g.op('Slice', [g.op('Shape', [ids64]), g.ints('p0', [0]), g.ints('p1', [1])]);
  const index = g.op('Expand', [
    g.op('Unsqueeze', [at, g.ints('pool_ax2', [2])]),
    g.op('Concat', [batch, g.ints('pool_one', [1]), g.ints('pool_c', [c])], { axis: { int: 0 } }),
  ]);
  const y = g.op('Squeeze', [
    g.op('GatherElements', [hidden.name, index], { axis: { int: 1 } }),
    g.ints('pool_ax1', [1]),
  ]);
  return { name: y, shape: [b, c] };
}
