/**
 * Helper for train.py, run with `npx tsx`:
 *   write DIR                 writes the mini tokenizer files (tokenizer.json, vocab.json, …) into DIR
 *   encode DIR IN.json OUT.json   token ids [N][77] of the prompts in IN.json, exactly as production
 *                             code tokenizes them (src/core/inference/clip-tokenizer.ts)
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clipInputIds, loadClipTokenizer } from '../../src/core/inference/clip-tokenizer';
import { miniTokenizerFiles } from '../../src/cli/mini-models/mini-tokenizer';
import { FASHION_CLASSES } from '../../src/cli/mini-models/fashion-classes';

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const [cmd, dir, input, output] = process.argv.slice(2);
if (cmd === 'write' && dir) {
  const tok = miniTokenizerFiles();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), json(tok.tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), json(tok.tokenizerConfig));
  await writeFile(join(dir, 'special_tokens_map.json'), json(tok.specialTokensMap));
  await writeFile(join(dir, 'vocab.json'), json(tok.vocab));
  await writeFile(join(dir, 'merges.txt'), tok.mergesTxt);
  process.stdout.write(
    json({
      vocabSize: tok.vocabSize,
      bosId: tok.bosId,
      eosId: tok.eosId,
      padId: tok.padId,
      classes: FASHION_CLASSES,
    }),
  );
} else if (cmd === 'encode' && dir && input && output) {
  const tokenizer = await loadClipTokenizer(dir);
  const prompts = JSON.parse(await readFile(input, 'utf8')) as string[];
  await writeFile(output, JSON.stringify(prompts.map((p) => clipInputIds(tokenizer, p, 77))));
} else {
  process.stderr.write('usage: tokenizer.ts write DIR | encode DIR IN.json OUT.json\n');
  process.exit(2);
}
