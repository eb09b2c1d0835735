/**
 * The one writer of a CLIP tokenizer.json (no transformers.js import, so the tiny-model builder
 * can use it): the loader builds it from a slow tokenizer's files (`clip-tokenizer.ts`), the
 * tiny models ship it (`src/cli/tiny-models/bpe-tokenizer.ts`).
 */

type TokenValue = string | { __type?: string; content: string } | null | undefined;
export type TokenizerConfig = Record<string, unknown> & {
  bos_token?: TokenValue;
  eos_token?: TokenValue;
  unk_token?: TokenValue;
  pad_token?: TokenValue;
  model_max_length?: number;
};

function tokenContent(v: TokenValue): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v.content;
}

/** One `added_tokens` entry of a tokenizer.json: a special token, matched before BPE. */
export function addedToken(id: number, content: string): Record<string, unknown> {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  };
}

/**
 * The tokenizer.json that Hugging Face's CLIPConverter (convert_slow_tokenizer.py) builds from a
 * slow CLIP tokenizer's vocab.json + merges.txt: byte-level BPE with `</w>` word ends, NFC +
 * whitespace collapse + lowercase, and <|startoftext|> … <|endoftext|> around each sequence.
 */
export function clipTokenizerJson(
  vocab: Record<string, number>,
  mergesText: string,
  config: TokenizerConfig,
): Record<string, unknown> {
  const merges = mergesText
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !l.startsWith('#version'));
  const bos = tokenContent(config.bos_token) ?? '<|startoftext|>';
  const eos = tokenContent(config.eos_token) ?? '<|endoftext|>';
  const unk = tokenContent(config.unk_token) ?? eos;
  const idOf = (t: string) => {
    const id = vocab[t];
    if (id === undefined)
      throw new Error(`The tokenizer vocab.json has no entry for the special token ${t}.`);
    return id;
  };
  const added = (content: string) => addedToken(idOf(content), content);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(bos), added(eos)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos, idOf(eos)],
      cls: [bos, idOf(bos)],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}
