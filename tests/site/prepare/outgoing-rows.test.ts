import { describe, expect, it } from 'vitest';
import { buildCohorts, type CohortItem } from '../../../src/site/privacy/k-cohort';
import { privatizeMeans } from '../../../src/site/privacy/differential-privacy';
import { seededRng } from '../../../src/site/privacy/seeded-rng';
import { dpParameters, memberMean, outgoingRows } from '../../../src/site/prepare/outgoing-rows';

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
    const out = outgoingRows(groups.map((g) => g.map((v) => [v])), null);
    const rows = [...out.rows];
    expect(rows).toHaveLength(2);
    expect(sameBits(rows[1]!, memberMean(groups[1]!))).toBe(true);
    expect(out.used()).toBeNull();
  });

  it('with DP, row by row equals one privatizeMeans call over all groups (same generator, same draws)', () => {
    const items = dataset();
    const cohorts = buildCohorts(items, {
      mode: 'cluster',
      policy: { k: 5, allowInstance: false },
      seed: 1,
    });
    const groups = cohorts.rows.map((r) => r.members.map((m) => items[m]!.cond));
    const options = { clip: Math.sqrt(D), delta: 1e-5, noise: { epsilon: 0.8 } };
    const whole = privatizeMeans(groups, { ...options, rng: seededRng(42) });
    const out = outgoingRows(groups.map((g) => g.map((v) => [v])), { ...options, rng: seededRng(42) });
    const rows = [...out.rows];
    expect(rows).toHaveLength(whole.rows.length);
    rows.forEach((r, i) => expect(sameBits(r, whole.rows[i]!.cond)).toBe(true));
    expect(out.used()).toEqual({ epsilon: whole.epsilon, sigmaMax: whole.sigmaMax });
    // Noise was added: a row is not its plain mean.
    expect(sameBits(rows[0]!, memberMean(groups[0]!))).toBe(false);
  });

  it('dpParameters: the ε and largest σ privatizeMeans uses, from the row sizes alone', () => {
    const items = dataset();
    const groups = [
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9, 10, 11],
      [12, 13, 14, 15, 16, 17],
    ].map((g) => g.map((m) => items[m]!.cond));
    for (const options of [
      { clip: 20, delta: 1e-5, noise: { epsilon: 1.5 } },
      { clip: 20, delta: 1e-6, noise: { sigma: 0.9 } },
    ]) {
      const real = privatizeMeans(groups, { ...options, rng: seededRng(7) });
      expect(
        dpParameters(
          groups.map((g) => g.length),
          options,
        ),
      ).toEqual({
        epsilon: real.epsilon,
        delta: real.delta,
        clip: real.clip,
        sigmaMax: real.sigmaMax,
      });
    }
  });
});

describe('contribution bounding: one vector per privacy unit', () => {
  it('a unit of five copies weighs as much in the row as a unit of one file', () => {
    const a = vector(1);
    const b = vector(2);
    const [row] = [...outgoingRows([[[a, a, a, a, a], [b]]], null).rows];
    expect(sameBits(row!, memberMean([a, b]))).toBe(true);
  });
});
