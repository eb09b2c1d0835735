/**
 * Builds HF `tokenizers` JSON files for the tiny models: a CLIP-style tokenizer (lowercase,
 * byte-level, `</w>` word ends, `<|startoftext|>`/`<|endoftext|>`) and a GPT-2-style one (byte-level,
 * `Ġ` word starts, `<|endoftext|>`). The vocabulary is byte-level, so any text tokenizes; a short
 * word list is learned by real BPE training so common words become single tokens.
 */

import { addedToken, clipTokenizerJson } from '../../core/inference/clip-tokenizer-json';

/** GPT-2's reversible byte → printable-character table, in the order GPT-2 and CLIP list it. */
export function byteLevelAlphabet(): { ordered: string[]; byByte: string[] } {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const byByte = new Array<string>(256);
  bs.forEach((b, i) => (byByte[b] = String.fromCodePoint(cs[i]!)));
  return { ordered: cs.map((c) => String.fromCodePoint(c)), byByte };
}

function toByteSymbols(word: string, byByte: readonly string[]): string[] {
  return [...new TextEncoder().encode(word)].map((b) => byByte[b]!);
}

/**
 * Plain BPE training: repeatedly merge the most frequent adjacent pair (ties: the smaller pair
 * string, so the result never depends on Map iteration quirks) until every word is one symbol.
 * Encoding a training word replays these merges in order, so each becomes a single token.
 */
export function trainBpe(words: readonly (readonly string[])[]): [string, string][] {
  const seqs = words.map((w) => [...w]);
  const merges: [string, string][] = [];
  for (;;) {
    const counts = new Map<string, number>();
    for (const s of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        const key = `${s[i]} ${s[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, c] of counts) {
      if (c > bestCount || (c === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === undefined) return merges;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    for (const s of seqs) {
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, a + b);
      }
    }
  }
}

export type TokenizerFiles = {
  /** tokenizer.json (HF tokenizers format) */
  tokenizer: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  specialTokensMap: Record<string, unknown>;
  /** vocab.json and merges.txt, as the slow tokenizers (and diffusers folders) ship them */
  vocab: Record<string, number>;
  mergesTxt: string;
  vocabSize: number;
  bosId: number;
  eosId: number;
  padId: number;
};

function vocabFrom(
  base: readonly string[],
  merges: readonly [string, string][],
): Record<string, number> {
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const t of base) if (!(t in vocab)) vocab[t] = id++;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = id++;
  return vocab;
}

/**
 * The CLIP tokenizer as `openai/clip-vit-base-patch32` and Stable Diffusion ship it. `padToken`
 * differs between models: `<|endoftext|>` for CLIP and SD 1.x, `!` for SD 2.x.
 */
export function clipTokenizer(
  words: readonly string[],
  padToken: '<|endoftext|>' | '!',
): TokenizerFiles {
  const { ordered, byByte } = byteLevelAlphabet();
  const corpus = words.map((w) => {
    const s = toByteSymbols(w.toLowerCase(), byByte);
    s[s.length - 1] += '</w>';
    return s;
  });
  const merges = trainBpe(corpus);
  const vocab = vocabFrom([...ordered, ...ordered.map((c) => c + '</w>')], merges);
  const bosId = Object.keys(vocab).length;
  const eosId = bosId + 1;
  vocab['<|startoftext|>'] = bosId;
  vocab['<|endoftext|>'] = eosId;
  const padId = vocab[padToken]!;
  const mergesTxt = ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';
  const special = {
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
    pad_token: padToken,
  };
  return {
    tokenizer: clipTokenizerJson(vocab, mergesTxt, special),
    tokenizerConfig: {
      add_prefix_space: false,
      clean_up_tokenization_spaces: true,
      do_lower_case: true,
      errors: 'replace',
      model_max_length: 77,
      tokenizer_class: 'CLIPTokenizer',
      ...special,
    },
    specialTokensMap: special,
    vocab,
    mergesTxt,
    vocabSize: eosId + 1,
    bosId,
    eosId,
    padId,
  };
}

/** A GPT-2 tokenizer (as in vit-gpt2): words after the first carry a `Ġ` (space) prefix. */
export function gpt2Tokenizer(
  words: readonly string[],
  opts: { vocabSize?: number } = {},
): TokenizerFiles {
  const { ordered, byByte } = byteLevelAlphabet();
  const corpus = words.flatMap((w) => [toByteSymbols(w, byByte), toByteSymbols(' ' + w, byByte)]);
  const merges = trainBpe(corpus);
  const vocab = vocabFrom(ordered, merges);
  // Padded to a real vocabulary's size (GPT-2: 50,257, <|endoftext|> last) with filler words
  // " w<n>" that BPE never produces but a decoder's logits can pick: real-size logits, small files.
  if (opts.vocabSize !== undefined) {
    const base = Object.keys(vocab).length;
    if (opts.vocabSize < base + 1)
      throw new Error(
        `gpt2Tokenizer: vocabSize ${opts.vocabSize} is below the ${base + 1} tokens it needs`,
      );
    let size = base;
    for (let n = 0; size < opts.vocabSize - 1; n++) {
      const filler = toByteSymbols(` w${n}`, byByte).join('');
      if (!(filler in vocab)) vocab[filler] = size++;
    }
  }
  const eosId = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = eosId;
  const mergeLines = merges.map(([a, b]) => `${a} ${b}`);
  const byteLevel = {
    type: 'ByteLevel',
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  };
  const special = {
    bos_token: '<|endoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<|endoftext|>',
  };
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [addedToken(eosId, '<|endoftext|>')],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: mergeLines,
      },
    },
    tokenizerConfig: {
      add_prefix_space: false,
      model_max_length: 1024,
      tokenizer_class: 'GPT2Tokenizer',
      ...special,
    },
    specialTokensMap: special,
    vocab,
    mergesTxt: ['#version: 0.2', ...mergeLines].join('\n') + '\n',
    vocabSize: eosId + 1,
    bosId: eosId,
    eosId,
    padId: eosId,
  };
}

/** Id of a word as one token, for graphs that must emit or recognise it; throws if BPE split it. */
export function tokenId(files: TokenizerFiles, token: string): number {
  const { byByte } = byteLevelAlphabet();
  const symbol = toByteSymbols(token, byByte).join('');
  const id = files.vocab[symbol];
  if (id === undefined)
    throw new Error(`tiny tokenizer: "${token}" is not a single token; add it to TINY_WORDS`);
  return id;
}
