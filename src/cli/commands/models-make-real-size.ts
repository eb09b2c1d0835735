import { type Command, UsageError, intOption, optionalString } from '../command';
import {
  ALL_REAL_MODELS,
  ensureRealSizeModels,
  realSizeCacheDir,
} from '../tiny-models/real-size/make-real-size-models';
import { realGraphCost } from '../tiny-models/real-size/real-size-graphs';
import { PUBLISHED, type RealModelName } from '../tiny-models/real-size/real-size-specs';

const gb = (n: number) => `${(n / 1024 ** 3).toFixed(2)} GB`;

export const modelsMakeRealSizeCommand: Command = {
  path: ['models', 'make-real-size'],
  summary:
    'Write the published CLIP, SD 2 and vit-gpt2 captioner architectures at real size with random weights, for timing',
  description: [
    'Writes, with the same ONNX builder as `fgl models make-tiny`, graphs with the published',
    "architectures and sizes (from the models' config.json) and seeded random weights:",
    '',
    '  clipVision   CLIP ViT-B/32 vision tower + projection   87.8 M parameters, 8.8 GFLOPs / image',
    '  clipText     CLIP ViT-B/32 text tower + projection      63.4 M, 6.0 GFLOPs / 77 tokens',
    '  textEncoder  SD 2.x / SD-Turbo text encoder (OpenCLIP ViT-H text, 23 layers, width 1024)',
    '               340.4 M, 45.1 GFLOPs / prompt',
    '  unet         SD 2.x UNet2DConditionModel (320/640/1280/1280, cross-attention 1024)',
    '               865.9 M, 804 GFLOPs per 512² step at batch 1',
    '  vaeDecoder   SD 2.x VAE decoder  49.5 M, 2.5 TFLOPs per 512² decode',
    '  captionerEncoder  vit-gpt2 captioner: ViT-B/16 encoder at 224²  85.8 M, 35.1 GFLOPs / image',
    '  captionerDecoder  vit-gpt2 captioner: GPT-2 small + cross-attention, merged decoder with',
    '               past key values  152.8 M, 5.9 GFLOPs / token (239.2 M with the pooler, as published)',
    '',
    'into DIR/clip/ (transformers.js layout), DIR/captioner/ (Xenova/vit-gpt2-image-captioning',
    'layout) and DIR/generator/ (diffusers ONNX layout), with tokenizer, scheduler and config',
    'files, so `fgl site prepare`, the synthesis pipeline and the benchmarks load them like real models. Graphs over 1 GiB of weights (text encoder and UNet at',
    'fp32) use ONNX external data (model.onnx_data), as real exports past protobuf’s 2 GB limit do.',
    'About 6.5 GB at fp32, 4.7 GB with --fp16 (generator graphs in float16). Graphs already there',
    '(same seed) are kept. The outputs mean nothing: these models are for timing, never accuracy.',
    '',
    '--count prints parameters and GFLOPs per call next to the published figures and writes nothing.',
  ].join('\n'),
  options: {
    out: {
      type: 'string',
      value: 'DIR',
      description:
        'Folder to write (default: $FGL_MODELS_DIR/real-size-fp32|fp16, else under the OS temp folder)',
    },
    only: {
      type: 'string',
      value: 'LIST',
      description: `Comma-separated graphs to write: ${ALL_REAL_MODELS.join(', ')} (default: all)`,
    },
    fp16: { type: 'boolean', description: 'float16 weights and I/O for the generator graphs' },
    seed: {
      type: 'string',
      value: 'S',
      description: 'Weight seed, a non-negative integer (default 0)',
    },
    count: { type: 'boolean', description: 'Only count parameters and GFLOPs; write nothing' },
  },
  examples: [
    'fgl models make-real-size --count',
    'fgl models make-real-size --only clipVision,clipText,textEncoder',
    'FGL_MODELS_DIR=/data/models fgl models make-real-size --fp16',
  ],
  async run(ctx) {
    const onlyText = optionalString(ctx, 'only');
    const only = (
      onlyText ? onlyText.split(',').map((s) => s.trim()) : [...ALL_REAL_MODELS]
    ) as RealModelName[];
    const unknown = only.filter((m) => !ALL_REAL_MODELS.includes(m));
    if (unknown.length > 0)
      throw new UsageError(
        `--only: unknown graph ${unknown.join(', ')}`,
        `use any of ${ALL_REAL_MODELS.join(', ')}`,
      );
    const fp16 = ctx.values.fp16 === true;
    if (ctx.values.count === true) {
      const rows = only.map((model) => {
        const c = realGraphCost(model, fp16 ? 'float16' : 'float32');
        return { model, params: c.params, gflops: (2 * c.macs) / 1e9, published: PUBLISHED[model] };
      });
      ctx.out.result({ graphs: rows }, () =>
        rows
          .map(
            (r) =>
              `${r.model.padEnd(16)} ${(r.params / 1e6).toFixed(2).padStart(8)} M params (published ${(r.published.params / 1e6).toFixed(2)} M)  ` +
              `${r.gflops.toFixed(2).padStart(8)} GFLOPs/call${r.published.gflops === null ? '' : ` (published ${r.published.gflops})`}`,
          )
          .join('\n'),
      );
      return;
    }
    const seed = intOption(ctx, 'seed', 0, 0);
    const out = optionalString(ctx, 'out') ?? realSizeCacheDir({ fp16 });
    ctx.out.info(`Writing real-size graphs (${only.join(', ')}) to ${out}; GBs, a few minutes…`);
    const models = await ensureRealSizeModels({ fp16, seed, only }, out, ctx.out.info);
    ctx.out.result(models, () =>
      [
        `Real-size models in ${models.root}:`,
        ...models.graphs.map(
          (g) =>
            `  ${g.path.padEnd(41)} ${g.dtype}  ${(g.params / 1e6).toFixed(1)} M params  ${gb(g.bytes + g.externalDataBytes)}` +
            (g.externalDataBytes > 0 ? ' (external data)' : ''),
        ),
        'Random weights: for timing and capacity planning, never accuracy.',
      ].join('\n'),
    );
  },
};
