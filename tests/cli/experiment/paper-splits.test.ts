import { describe, expect, it } from 'vitest';
import { parseSplits } from '../../../src/cli/experiment/paper-parallel';

describe('--split of fgl experiment paper', () => {
  it('takes labels, bare β, beta=β and iid, and returns each split once in the paper order', () => {
    expect(parseSplits('iid, β=0.01,beta=0.1,0.01').map((s) => s.label)).toEqual([
      'β=0.01',
      'β=0.1',
      'IID',
    ]);
    expect(parseSplits('IID').map((s) => s.beta)).toEqual([Infinity]);
  });

  it('refuses an empty list and a β the paper does not use', () => {
    expect(() => parseSplits(' , ')).toThrow(/at least one split/);
    expect(() => parseSplits('0.01,1')).toThrow(/"1" is not one of the paper's splits/);
  });
});
