import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clipInputIds, loadClipTokenizer } from '../../../src/core/inference/clip-tokenizer';

/*
 * A CLIP tokenizer folder as SD 2.x / sd-turbo publish it (vocab.json + merges.txt, no
 * tokenizer.json), with the published CLIP vocabulary's numbering for what it holds:
 *   - ids 0..93: the printable ASCII bytes '!'..'~' in byte order (GPT-2's bytes_to_unicode puts
 *     them first), so '!' = 0 and 'a' = 0x61 - 0x21 = 64;
 *   - ids 256..349: the same symbols with the end-of-word suffix, so 'a</w>' = 256 + 64 = 320, as in
 *     openai/clip-vit-base-patch32's vocab.json;
 *   - ids 512 + rank: one per merge, in merges.txt order;
 *   - <|startoftext|> = 49406, <|endoftext|> = 49407.
 * Expected ids below are worked out by hand from those rules, never from our own output.
 */
const BOS = 49406;
const EOS = 49407;
const MERGES = ['r e', 're d</w>', 'c a', 'ca t</w>'];
const ascii = (c: string) => c.charCodeAt(0) - 0x21;
const word = (c: string) => 256 + ascii(c);

function publishedVocab(): Record<string, number> {
  const vocab: Record<string, number> = {};
  for (let b = 0x21; b <= 0x7e; b++) {
    const c = String.fromCharCode(b);
    vocab[c] = b - 0x21;
    vocab[`${c}</w>`] = 256 + b - 0x21;
  }
  MERGES.forEach((m, rank) => (vocab[m.replace(' ', '')] = 512 + rank));
  vocab['<|startoftext|>'] = BOS;
  vocab['<|endoftext|>'] = EOS;
  return vocab;
}

const tokenObject = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
const addedToken = (content: string) => ({ __type: 'AddedToken', ...tokenObject(content) });

let root: string;

async function folder(name: string, config: object, specialMap: object | null): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'vocab.json'), JSON.stringify(publishedVocab()));
  await writeFile(path.join(dir, 'merges.txt'), ['#version: 0.2', ...MERGES].join('\n') + '\n');
  await writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  if (specialMap) await writeFile(path.join(dir, 'special_tokens_map.json'), JSON.stringify(specialMap));
  return dir;
}

const pad = (ids: number[], with_: number) => [...ids, ...new Array<number>(77 - ids.length).fill(with_)];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fgl-clip-tokenizer-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('CLIP tokenizer from vocab.json + merges.txt (no tokenizer.json)', () => {
  const layouts = {
    // sd-turbo: special_tokens_map.json with objects that have no __type (transformers.js alone throws "Unknown token").
    'objects without __type (sd-turbo)': async () =>
      folder(
        'turbo',
        { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '!', unk_token: '<|endoftext|>', model_max_length: 77 },
        { bos_token: tokenObject('<|startoftext|>'), eos_token: tokenObject('<|endoftext|>'), pad_token: tokenObject('!'), unk_token: tokenObject('<|endoftext|>') },
      ),
    // SD 2.1 base: tokenizer_config.json says pad <|endoftext|> with __type objects; special_tokens_map.json says "!" and wins.
    'AddedToken objects, pad overridden (SD 2.1 base)': async () =>
      folder(
        'sd21',
        { bos_token: addedToken('<|startoftext|>'), eos_token: addedToken('<|endoftext|>'), unk_token: addedToken('<|endoftext|>'), pad_token: '<|endoftext|>', model_max_length: 77 },
        { bos_token: tokenObject('<|startoftext|>'), eos_token: tokenObject('<|endoftext|>'), unk_token: tokenObject('<|endoftext|>'), pad_token: '!' },
      ),
  };

  for (const [name, make] of Object.entries(layouts)) {
    describe(name, () => {
      it('pads with "!" = id 0 and encodes "" to [bos, eos, 0, …] as diffusers does', async () => {
        const tok = await loadClipTokenizer(await make());
        expect(tok.pad_token_id).toBe(0);
        expect(clipInputIds(tok, '', 77)).toEqual(pad([BOS, EOS], 0));
      });

      it('applies the merges in rank order, lowercases and splits punctuation', async () => {
        const tok = await loadClipTokenizer(await make());
        // "a" → a</w>; "red" → r e d</w> → re d</w> → red</w>; "cat" → c a t</w> → ca t</w> → cat</w>.
        expect(clipInputIds(tok, 'a red cat', 77)).toEqual(pad([BOS, word('a'), 512 + 1, 512 + 3, EOS], 0));
        // "Red!" → "red" + "!" (a punctuation run is its own word): red</w>, !</w> = 256 + 0.
        expect(clipInputIds(tok, 'Red!', 77)).toEqual(pad([BOS, 513, word('!'), EOS], 0));
        // "it's": "it" has no merge → i, t</w>; "'s" → ', s</w>.
        expect(clipInputIds(tok, "it's", 77)).toEqual(pad([BOS, ascii('i'), word('t'), ascii("'"), word('s'), EOS], 0));
      });

      it('truncates text over 77 tokens to 75 and keeps the closing <|endoftext|>', async () => {
        const tok = await loadClipTokenizer(await make());
        const ids = clipInputIds(tok, 'a '.repeat(100), 77);
        expect(ids).toEqual([BOS, ...new Array<number>(75).fill(320), EOS]);
      });
    });
  }

  it('a CLIP / SD 1.x tokenizer (pad <|endoftext|>) pads with 49407', async () => {
    const dir = await folder('sd1', { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' }, null);
    const tok = await loadClipTokenizer(dir);
    expect(clipInputIds(tok, 'a', 77)).toEqual(pad([BOS, 320, EOS], EOS));
  });

  it('a special token object without content is a clear error, not "Unknown token: [object Object]"', async () => {
    const dir = await folder('broken', { pad_token: { lstrip: false } }, null);
    await expect(loadClipTokenizer(dir)).rejects.toThrow(/pad_token is an object without a "content" string/);
  });
});
