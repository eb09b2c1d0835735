import { describe, expect, it } from 'vitest';
import { findDifferencing, unitDifference } from '../../../src/site/privacy/differencing';
import type { ReleasedRow } from '../../../src/site/ledger/released-rows-repo';

const keys = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `image:${from + i}`);
const old = (units: string[], over: Partial<ReleasedRow> = {}): ReleasedRow => ({
  packageSha256: 'p1',
  studyId: 's',
  label: 0,
  dp: false,
  units,
  ...over,
});

describe('differencing check', () => {
  it('counts the symmetric difference of unit sets', () => {
    expect(unitDifference(keys(0, 12), keys(0, 13))).toBe(1);
    expect(unitDifference(keys(0, 12), keys(1, 13))).toBe(2);
    expect(unitDifference(keys(0, 5), keys(0, 5))).toBe(0);
  });

  it('refuses a row 1..k−1 units away from an earlier non-DP row, allows identical and ≥ k away', () => {
    expect(
      findDifferencing([{ label: 0, units: keys(0, 13) }], [old(keys(0, 12))], 5),
    ).toMatchObject([{ label: 0, differ: 1, scope: 'row' }]);
    expect(findDifferencing([{ label: 0, units: keys(0, 12) }], [old(keys(0, 12))], 5)).toEqual([]);
    expect(findDifferencing([{ label: 0, units: keys(0, 17) }], [old(keys(0, 12))], 5)).toEqual([]);
  });

  it('ignores earlier DP rows and other classes', () => {
    expect(
      findDifferencing(
        [{ label: 0, units: keys(0, 13) }],
        [old(keys(0, 12), { dp: true }), old(keys(0, 12), { label: 1 })],
        5,
      ),
    ).toEqual([]);
  });

  it('compares a class’s union of rows, so a different cluster split cannot hide one added unit', () => {
    const earlier = [old(keys(0, 6)), old(keys(6, 12))];
    // Every new row is ≥ k = 5 units from every old row, yet the class totals differ by one unit.
    const now = [
      { label: 0, units: [...keys(0, 3), ...keys(6, 9)] },
      { label: 0, units: [...keys(3, 6), ...keys(9, 13)] },
    ];
    expect(findDifferencing(now, earlier, 5)).toEqual([
      { label: 0, packageSha256: 'p1', differ: 1, scope: 'class' },
    ]);
  });
});
