import { describe, expect, it } from 'vitest';
import { labelKey, matchLabels, sameClassPair } from '../../src/shared/class-names';

describe('matchLabels', () => {
  it('matches exactly, then by case and separators, and reports what it cannot match', () => {
    const counts = new Map([
      ['cat', 5],
      ['Big_Dog', 3],
      ['bird', 2],
      ['empty', 0],
    ]);
    const m = matchLabels(counts, ['cat', 'big dog', 'fish']);
    expect([...m.index]).toEqual([
      ['Big_Dog', 1],
      ['cat', 0],
    ]);
    expect(m.renamed).toEqual([{ label: 'Big_Dog', class: 'big dog' }]);
    expect(m.excluded).toEqual([
      { label: 'bird', images: 2 },
      { label: 'empty', images: 0 },
    ]);
    expect(m.classesWithoutImages).toEqual(['fish']);
  });

  it('never guesses between two classes of the same key, but still takes an exact name', () => {
    const m = matchLabels(new Map([['a-b', 1], ['A B', 1], ['a_b', 4]]), ['a b', 'A-B']);
    expect(m.index.get('A B')).toBeUndefined();
    expect(m.index.get('a_b')).toBeUndefined();
    expect(m.excluded.map((e) => e.label).sort()).toEqual(['A B', 'a-b', 'a_b']);
    expect(matchLabels(new Map([['A-B', 1]]), ['a b', 'A-B']).index.get('A-B')).toBe(1);
  });

  it('a class with images only under an unmatched label counts as without images', () => {
    expect(matchLabels(new Map([['x', 0]]), ['x', 'y']).classesWithoutImages).toEqual(['x', 'y']);
    expect(labelKey('  Red__Circle-x ')).toBe('red circle x');
  });
});

describe('the one class-name rule', () => {
  it('finds the names a study may not have together', () => {
    expect(sameClassPair(['Normal', 'pneumonia', 'normal'])).toEqual(['Normal', 'normal']);
    expect(sameClassPair(['red circle', ' Red_Circle '])).toEqual(['red circle', ' Red_Circle ']);
    expect(sameClassPair(['a', 'a'])).toEqual(['a', 'a']);
    expect(sameClassPair(['normal', 'pneumonia'])).toBeNull();
  });

  it('lets the operator map a folder to a class, or leave it out, before the rule applies', () => {
    const m = matchLabels(new Map([['Pneumo', 4], ['normal', 3], ['Unsorted', 2]]), ['normal', 'pneumonia'], { Pneumo: 'pneumonia', Unsorted: null, normal: null });
    expect([...m.index]).toEqual([['Pneumo', 1]]);
    expect(m.renamed).toEqual([{ label: 'Pneumo', class: 'pneumonia' }]);
    expect(m.excluded).toEqual([{ label: 'Unsorted', images: 2 }, { label: 'normal', images: 3 }]);
  });
});
