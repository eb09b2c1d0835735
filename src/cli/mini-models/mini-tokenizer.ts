import { clipTokenizer, type TokenizerFiles } from '../tiny-models/bpe-tokenizer';
import { FASHION_CLASSES } from './fashion-classes';

/**
 * Words the mini models' CLIP tokenizer learns as whole tokens: the class names, the study's
 * prompt templates and the attribute words of the training captions. Byte-level, so any other
 * text still tokenizes (as single bytes the mini text tower never saw in training).
 */
// prettier-ignore
export const MINI_WORDS: readonly string[] = [
  ...new Set([
    ...FASHION_CLASSES.flatMap((c) => c.split(/[^a-z]+/)).filter((w) => w !== ''),
    'real', 'world', 'images', 'image', 'high', 'resolution', 'a', 'an', 'the', 'of', 'photo', 'picture',
    'dark', 'bright', 'pale', 'light', 'low', 'contrast', 'large', 'small', 'object', 'centered', 'plain',
    'background', 'monochrome', 'single', 'grey', 'black', 'white', 'smooth', 'texture', 'photograph',
  ]),
];

/** The mini CLIP and generator share this tokenizer (SD 1.x style: padded with <|endoftext|>). */
export function miniTokenizerFiles(): TokenizerFiles {
  return clipTokenizer(MINI_WORDS, '<|endoftext|>');
}
