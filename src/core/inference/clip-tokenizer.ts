import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CLIPTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers';
import { clipTokenizerJson, type TokenizerConfig } from './clip-tokenizer-json';

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * Special tokens as plain strings. Published tokenizers write them three ways: a string, an
 * object with `__type: "AddedToken"` (transformers < 4.31), or an object without `__type`
 * (newer special_tokens_map.json, e.g. SD 2.x and sd-turbo). transformers.js reads only the first
 * two and throws "Unknown token" on the third, so every object becomes its `content`.
 */
export function plainSpecialTokens(config: TokenizerConfig): TokenizerConfig {
  const out: TokenizerConfig = { ...config };
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith('_token') || typeof value !== 'object' || value === null) continue;
    const content = (value as { content?: unknown }).content;
    if (typeof content !== 'string')
      throw new Error(`The tokenizer's ${key} is an object without a "content" string: re-export the tokenizer files.`);
    out[key] = content;
  }
  return out;
}

/**
 * A CLIP tokenizer from a diffusers `tokenizer/` folder. Real SD exports ship only the slow files
 * (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json), which transformers.js
 * cannot read, so the fast form is built here; a tokenizer.json, when present, is used as is.
 */
export async function loadClipTokenizer(tokenizerDir: string): Promise<PreTrainedTokenizer> {
  const baseConfig =
    (await readJson<TokenizerConfig>(path.join(tokenizerDir, 'tokenizer_config.json'))) ?? {};
  const specialMap =
    (await readJson<TokenizerConfig>(path.join(tokenizerDir, 'special_tokens_map.json'))) ?? {};
  // As in Hugging Face's from_pretrained, special_tokens_map.json overrides tokenizer_config.json
  // (SD 2.x pads with "!" this way).
  const config = plainSpecialTokens({ ...baseConfig, ...specialMap });

  const tokenizerJson = await readJson<object>(path.join(tokenizerDir, 'tokenizer.json'));
  if (tokenizerJson !== null) return new CLIPTokenizer(tokenizerJson, config);
  const vocab = await readJson<Record<string, number>>(path.join(tokenizerDir, 'vocab.json'));
  let merges: string | null = null;
  try {
    merges = await readFile(path.join(tokenizerDir, 'merges.txt'), 'utf8');
  } catch {
    merges = null;
  }
  if (vocab === null || merges === null) {
    throw new Error(
      `${tokenizerDir} has neither tokenizer.json nor vocab.json + merges.txt: copy the generator's complete tokenizer/ folder.`,
    );
  }
  return new CLIPTokenizer(clipTokenizerJson(vocab, merges, config), config);
}

/**
 * ids exactly as diffusers' pipelines make them: tokenizer(prompt, padding="max_length",
 * max_length=77, truncation=True). Truncation keeps the closing <|endoftext|>, as Hugging Face
 * does; transformers.js would cut it off.
 */
export function clipInputIds(
  tokenizer: PreTrainedTokenizer,
  prompt: string,
  maxLength: number,
): number[] {
  let ids = tokenizer.encode(prompt, { add_special_tokens: true });
  if (ids.length > maxLength) ids = [...ids.slice(0, maxLength - 1), tokenizer.eos_token_id];
  const pad = tokenizer.pad_token_id ?? tokenizer.eos_token_id;
  while (ids.length < maxLength) ids.push(pad);
  return ids;
}
