import { describe, expect, it } from 'vitest';
import { checkPrepareForm, parseDecimal } from '../../src/renderer/format/prepare-form';

const study = { k: 5, maxEpsilon: 8 };

describe('the Prepare form’s numbers', () => {
  it('accepts the ε values people type: 1, 2, 0.5, .25, a decimal comma', () => {
    for (const [text, n] of [['1', 1], ['2', 2], ['0.5', 0.5], ['.25', 0.25], [' 0,5 ', 0.5], ['8', 8]] as const)
      expect(checkPrepareForm({ k: '', useDp: true, epsilon: text }, study)).toEqual({ ok: true, k: undefined, dpEpsilon: n });
  });

  it('explains every refusal instead of doing nothing', () => {
    expect(checkPrepareForm({ k: '5', useDp: true, epsilon: 'two' }, study)).toEqual({ ok: false, errors: { epsilon: 'ε must be a number such as 1, 2 or 0.5 (you typed "two").' } });
    expect(checkPrepareForm({ k: '5', useDp: true, epsilon: '0' }, study)).toMatchObject({ ok: false, errors: { epsilon: expect.stringContaining('more than 0') } });
    expect(checkPrepareForm({ k: '5', useDp: true, epsilon: '9' }, study)).toMatchObject({ ok: false, errors: { epsilon: "ε must be at most 8, this study's budget per dataset." } });
    expect(checkPrepareForm({ k: '3', useDp: false, epsilon: 'x' }, study)).toEqual({ ok: false, errors: { k: "k must be at least 5, the study's minimum; you may choose more." } });
    expect(checkPrepareForm({ k: '5.5', useDp: false, epsilon: '' }, study)).toMatchObject({ ok: false, errors: { k: expect.stringContaining('whole number') } });
  });

  it('sends no ε without DP, and k only when given', () => {
    expect(checkPrepareForm({ k: '7', useDp: false, epsilon: 'ignored' }, { k: 5, maxEpsilon: null })).toEqual({ ok: true, k: 7, dpEpsilon: null });
    expect(checkPrepareForm({ k: '', useDp: true, epsilon: '100' }, { k: 5, maxEpsilon: null })).toEqual({ ok: true, k: undefined, dpEpsilon: 100 });
  });

  it('parses only plain decimals', () => {
    expect(['1e3', '-1', '1.2.3', '', 'Infinity', '0x10'].map(parseDecimal)).toEqual([null, null, null, null, null, null]);
  });
});
