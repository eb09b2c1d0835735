import { describe, expect, it } from 'vitest';
import { classPrompts, fillTemplate } from '../../../src/site/prompts/prompt-templates';
import { topVocabulary } from '../../../src/site/prompts/vocabulary-prompts';
import { DEFAULT_CLASS_TEMPLATE, DEFAULT_INSTANCE_TEMPLATE } from '../../../src/shared/study';

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
};

describe('prompt templates', () => {
  it("fills the paper's class and instance templates", () => {
    expect(classPrompts([DEFAULT_CLASS_TEMPLATE], 'tench')).toEqual(['tench, real world images, high resolution']);
    expect(fillTemplate(DEFAULT_INSTANCE_TEMPLATE, { class: 'tench', caption: 'a fish held by a man' })).toBe(
      'tench, a fish held by a man, real world images, high resolution.',
    );
  });
  it('does not expand braces that come from values', () => {
    expect(fillTemplate('{class}: {caption}', { class: '{caption}', caption: 'x' })).toBe('{caption}: x');
  });
});

describe('vocabulary prompts', () => {
  it('picks the phrases nearest to the image in CLIP space, best first', () => {
    const phrases = ['red', 'green', 'blue'];
    const emb = [unit([1, 0, 0]), unit([0, 1, 0]), unit([0, 0, 1])];
    const picked = topVocabulary(unit([0.1, 0.9, 0.4]), emb, phrases, 2);
    expect(picked.map((p) => p.phrase)).toEqual(['green', 'blue']);
    expect(picked[0]!.similarity).toBeGreaterThan(picked[1]!.similarity);
  });
});
