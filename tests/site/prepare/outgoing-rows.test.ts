import { describe, expect, it } from 'vitest';
import { buildCohorts, type CohortItem } from '../../../src/site/privacy/k-cohort';
import { seededRng } from '../../../src/site/privacy/seeded-rng';
import { memberMean, outgoingRows } from '../../../src/site/prepare/outgoing-rows';

const D = 77 * 6;

function vector(seed: number, len = D): Float32Array {
  const rng = seededRng(seed);
  return Float32Array.from({ length: len }, () => rng.normal() * 3);
}

/** Items as prepare builds them: 5 prompts shared by 60 images, CLIP features per image. */
function dataset() {
  const prompts = Array.from({ length: 5 }, (_, i) => vector(100 + i));
  const items: CohortItem[] = Array.from({ length: 60 }, (_, i) => ({
    label: i % 3,
    clip: vector(1000 + i, 16),
    cond: prompts[(i * 7) % 5]!,
  }));
  return items;
}

const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('outgoing rows computed at write time', () => {
  it('memberMean gives exactly the k-cohort row means (class and cluster aggregation)', () => {
    const items = dataset();
    for (const mode of ['class', 'cluster'] as const) {
      const cohorts = buildCohorts(items, {
        mode,
        policy: { k: 5, allowInstance: false },
        seed: 3,
      });
      expect(cohorts.rows.length).toBeGreaterThan(mode === 'class' ? 2 : 5);
      for (const row of cohorts.rows)
        expect(sameBits(memberMean(row.members.map((m) => items[m]!.cond)), row.cond)).toBe(true);
    }
  });

  it('without DP, the rows are the member means, made lazily', () => {
    const items = dataset();
    const groups = [
      [0, 1, 2],
      [3, 4, 5, 6, 7],
    ].map((g) => g.map((m) => items[m]!.cond));
    const rows = [...outgoingRows(groups.map((g) => g.map((v) => [v])))];
    expect(rows).toHaveLength(2);
    expect(sameBits(rows[1]!, memberMean(groups[1]!))).toBe(true);
  });
});

describe('contribution bounding: one vector per privacy unit', () => {
  it('a unit of five copies weighs as much in the row as a unit of one file', () => {
    const a = vector(1);
    const b = vector(2);
    const [row] = [...outgoingRows([[[a, a, a, a, a], [b]]])];
    expect(sameBits(row!, memberMean([a, b]))).toBe(true);
  });
});
