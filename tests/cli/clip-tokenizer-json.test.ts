import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clipTokenizer, gpt2Tokenizer } from '../../src/cli/tiny-models/bpe-tokenizer';
import { jsonBytes } from '../../src/cli/tiny-models/model-folder';
import { TINY_WORDS } from '../../src/cli/tiny-models/tiny-vocabulary';
import { clipTokenizerJson } from '../../src/core/inference/clip-tokenizer-json';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('the CLIP tokenizer.json (one writer: core/inference/clip-tokenizer.ts)', () => {
  // Digest of the tiny models' tokenizer.json as written before the two writers were merged.
  const PINNED = '7f80967666a802191d115e37c790e6078a506d56f0e4c84b0847dea493fe69e3';

  it.each(['<|endoftext|>', '!'] as const)('the tiny CLIP tokenizer (pad %s) writes the same bytes as before', (pad) => {
    expect(sha256(jsonBytes(clipTokenizer(TINY_WORDS, pad).tokenizer))).toBe(PINNED);
  });

  it('the tiny GPT-2 tokenizer (which shares its added-token entries) writes the same bytes as before', () => {
    expect(sha256(jsonBytes(gpt2Tokenizer(TINY_WORDS).tokenizer))).toBe(
      'c7eac06b8c1b85ccbfb3984cb1aea31ca411ff6ddd521771ebca004f52b7445d',
    );
  });

  it('is what a loader builds from the slow files (vocab.json + merges.txt + special tokens)', () => {
    const tok = clipTokenizer(TINY_WORDS, '!');
    const rebuilt = clipTokenizerJson(tok.vocab, tok.mergesTxt, tok.specialTokensMap);
    expect(jsonBytes(rebuilt)).toEqual(jsonBytes(tok.tokenizer));
  });
});
