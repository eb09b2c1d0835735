/**
 * Tiny models in the exact file sets and quirks of the published exports FGL supports
 * (docs/models.md has the table and where each was read). The graphs are the tiny ones; only
 * the folder's shape, configs, tokenizer files and dtypes follow the published export.
 */
import { type FolderFiles, TINY_MARKER_KEY, jsonBytes, textBytes, tinyMarker } from './model-folder';
import { withExternalData } from './onnx-graph';
import type { TinyGeneratorParts } from './tiny-generator';
import type { TinyLayout, TinyModelOptions } from './tiny-model-options';

/** A special token as newer transformers write it in special_tokens_map.json: an object without `__type`. */
function tokenObject(content: string): Record<string, unknown> {
  return { content, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

/** A special token as transformers < 4.31 wrote it in tokenizer_config.json: `__type: "AddedToken"`. */
function addedTokenObject(content: string): Record<string, unknown> {
  return { __type: 'AddedToken', ...tokenObject(content) };
}

/** Keys in code-point order, as diffusers writes its config files (`json.dumps(sort_keys=True)`). */
function sortedKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** stabilityai/stable-diffusion-2-1-base's scheduler/scheduler_config.json as published (diffusers 0.10.0.dev0; no timestep_spacing key). */
export const SD21_BASE_SCHEDULER: Record<string, unknown> = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.10.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
};

/** A scheduler config derived from SD 2.1 base's, keys sorted. */
export function sd21Scheduler(changes: Record<string, unknown>): Record<string, unknown> {
  return sortedKeys({ ...SD21_BASE_SCHEDULER, ...changes });
}

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

/** diffusers' model_index.json for an ONNX pipeline; FGL reads none of the class names. */
function modelIndex(
  o: TinyModelOptions,
  className: string,
  version: string,
  scheduler: string,
  component: (name: string) => [string, string],
): Record<string, unknown> {
  return {
    _class_name: className,
    _diffusers_version: version,
    [TINY_MARKER_KEY]: tinyMarker(o),
    feature_extractor: [null, null],
    requires_safety_checker: false,
    safety_checker: [null, null],
    scheduler: ['diffusers', scheduler],
    text_encoder: component('text_encoder'),
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: component('unet'),
    vae_decoder: component('vae_decoder'),
    vae_encoder: component('vae_encoder'),
  };
}

/**
 * onnxruntime/sd-turbo (Olive export): EulerDiscrete with trailing spacing, a tokenizer with only
 * the slow files and object-form special tokens without `__type`, no config.json in any
 * submodel, float16 I/O (float16 timestep), int32 input_ids, vae_encoder/ present.
 */
function oliveSdTurbo(o: TinyModelOptions, p: TinyGeneratorParts): FolderFiles {
  // sd-turbo's: SD 2.1's betas, EulerDiscrete with trailing spacing (verbatim in tests/server/schedulers/scheduler-config.test.ts).
  const scheduler = sd21Scheduler({
    _class_name: 'EulerDiscreteScheduler',
    _diffusers_version: '0.24.0.dev0',
    interpolation_type: 'linear',
    sample_max_value: 1.0,
    sigma_max: null,
    sigma_min: null,
    timestep_spacing: 'trailing',
    timestep_type: 'discrete',
    use_karras_sigmas: false,
  });
  const specialTokensMap = {
    bos_token: tokenObject(BOS),
    eos_token: tokenObject(EOS),
    pad_token: tokenObject('!'),
    unk_token: tokenObject(EOS),
  };
  const added = (id: number, content: string) => [String(id), { ...tokenObject(content), special: true }];
  const tokenizerConfig = {
    add_prefix_space: false,
    added_tokens_decoder: Object.fromEntries([
      added(p.tok.padId, '!'),
      added(p.tok.bosId, BOS),
      added(p.tok.eosId, EOS),
    ]),
    bos_token: BOS,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    eos_token: EOS,
    errors: 'replace',
    model_max_length: 77,
    pad_token: '!',
    tokenizer_class: 'CLIPTokenizer',
    unk_token: EOS,
  };
  return new Map([
    [
      'model_index.json',
      jsonBytes(
        modelIndex(o, 'OnnxStableDiffusionPipeline', '0.24.0.dev0', 'EulerDiscreteScheduler', () => [
          'diffusers',
          'OnnxRuntimeModel',
        ]),
      ),
    ],
    ['scheduler/scheduler_config.json', jsonBytes(scheduler)],
    ['text_encoder/model.onnx', p.textEncoder],
    ['tokenizer/merges.txt', textBytes(p.tok.mergesTxt)],
    ['tokenizer/special_tokens_map.json', jsonBytes(specialTokensMap)],
    ['tokenizer/tokenizer_config.json', jsonBytes(tokenizerConfig)],
    ['tokenizer/vocab.json', jsonBytes(p.tok.vocab)],
    ['unet/model.onnx', p.unet],
    ['vae_decoder/model.onnx', p.vaeDecoder],
    ['vae_encoder/model.onnx', p.vaeEncoder()],
  ]);
}

/**
 * A diffusers/optimum export of stabilityai/stable-diffusion-2-1-base: SD 2.1 base's original
 * PNDM scheduler_config.json (diffusers 0.10.0.dev0: no timestep_spacing key), its tokenizer files (the
 * tokenizer_config.json pads with <|endoftext|> and uses `__type: AddedToken` objects;
 * special_tokens_map.json overrides the pad with "!"), config.json in every submodel, float32
 * I/O, and the UNet's weights in `unet/model.onnx_data` (ONNX external data).
 */
function optimumSd21(o: TinyModelOptions, p: TinyGeneratorParts): FolderFiles {
  const scheduler = SD21_BASE_SCHEDULER;
  const specialTokensMap = {
    bos_token: tokenObject(BOS),
    eos_token: tokenObject(EOS),
    pad_token: '!',
    unk_token: tokenObject(EOS),
  };
  const tokenizerConfig = {
    add_prefix_space: false,
    bos_token: addedTokenObject(BOS),
    do_lower_case: true,
    eos_token: addedTokenObject(EOS),
    errors: 'replace',
    model_max_length: 77,
    name_or_path: 'openai/clip-vit-large-patch14',
    pad_token: EOS,
    special_tokens_map_file: './special_tokens_map.json',
    tokenizer_class: 'CLIPTokenizer',
    unk_token: addedTokenObject(EOS),
  };
  const unet = withExternalData(p.unet, 'model.onnx_data');
  return new Map([
    [
      'model_index.json',
      jsonBytes(
        modelIndex(o, 'ORTStableDiffusionPipeline', '0.29.2', 'PNDMScheduler', (name) => [
          'optimum',
          `ORTModel${name.replace(/(^|_)(\w)/g, (_, _s: string, c: string) => c.toUpperCase())}`,
        ]),
      ),
    ],
    ['scheduler/scheduler_config.json', jsonBytes(scheduler)],
    ['text_encoder/config.json', jsonBytes(p.configs.textEncoder)],
    ['text_encoder/model.onnx', p.textEncoder],
    ['tokenizer/merges.txt', textBytes(p.tok.mergesTxt)],
    ['tokenizer/special_tokens_map.json', jsonBytes(specialTokensMap)],
    ['tokenizer/tokenizer_config.json', jsonBytes(tokenizerConfig)],
    ['tokenizer/vocab.json', jsonBytes(p.tok.vocab)],
    ['unet/config.json', jsonBytes(p.configs.unet)],
    ['unet/model.onnx', unet.model],
    ['unet/model.onnx_data', unet.data],
    ['vae_decoder/config.json', jsonBytes(p.configs.vae)],
    ['vae_decoder/model.onnx', p.vaeDecoder],
    ['vae_encoder/config.json', jsonBytes(p.configs.vae)],
    ['vae_encoder/model.onnx', p.vaeEncoder()],
  ]);
}

export function publishedGeneratorFiles(
  layout: TinyLayout,
  o: TinyModelOptions,
  parts: TinyGeneratorParts,
): FolderFiles {
  if (layout === 'olive-sd-turbo') return oliveSdTurbo(o, parts);
  if (layout === 'optimum-sd21') return optimumSd21(o, parts);
  throw new Error(`${layout} is not a generator layout.`);
}

/**
 * Xenova/clip-vit-base-patch32: FGL's clip layout plus what the repo also carries and FGL must
 * neither need nor fetch: the combined onnx/model.onnx and quantized / fp16 variants of each
 * tower (here byte copies of the fp32 towers), quantize_config.json, and a tokenizer_config.json
 * with `__type: "AddedToken"` special tokens as in openai/clip-vit-base-patch32.
 */
function xenovaClip(files: FolderFiles): FolderFiles {
  const out = new Map(files);
  const config = JSON.parse(new TextDecoder().decode(files.get('tokenizer_config.json'))) as Record<
    string,
    unknown
  >;
  for (const key of ['bos_token', 'eos_token', 'unk_token'])
    config[key] = addedTokenObject(config[key] as string);
  out.set('tokenizer_config.json', jsonBytes(config));
  out.set('quantize_config.json', jsonBytes({ per_channel: true, reduce_range: true }));
  for (const tower of ['text_model', 'vision_model']) {
    const fp32 = files.get(`onnx/${tower}.onnx`)!;
    for (const variant of ['fp16', 'quantized']) out.set(`onnx/${tower}_${variant}.onnx`, fp32);
  }
  out.set('onnx/model.onnx', files.get('onnx/text_model.onnx')!);
  return out;
}

/**
 * Xenova/vit-gpt2-image-captioning: FGL's captioner layout plus the unmerged decoders
 * (decoder_model.onnx, decoder_with_past_model.onnx, here copies of the merged one) and quantized
 * variants, which transformers.js does not load with dtype fp32 and FGL does not fetch.
 */
function xenovaVitGpt2(files: FolderFiles): FolderFiles {
  const out = new Map(files);
  const merged = files.get('onnx/decoder_model_merged.onnx')!;
  for (const name of ['decoder_model', 'decoder_with_past_model', 'decoder_model_merged_quantized'])
    out.set(`onnx/${name}.onnx`, merged);
  out.set('onnx/encoder_model_quantized.onnx', files.get('onnx/encoder_model.onnx')!);
  out.set('quantize_config.json', jsonBytes({ per_channel: false, reduce_range: false }));
  return out;
}

/** FGL's clip/captioner files rewritten into the published layout `layout` asks for. */
export function publishedFiles(layout: TinyLayout | null, files: FolderFiles): FolderFiles {
  if (layout === 'xenova-clip') return xenovaClip(files);
  if (layout === 'xenova-vit-gpt2') return xenovaVitGpt2(files);
  return files;
}
