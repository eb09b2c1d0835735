import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCohorts } from '../../../src/site/privacy/k-cohort';
import type { CohortItem, CohortResult } from '../../../src/site/privacy/k-cohort';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

const CLIP_DIM = 16;
const COND_DIM = 77 * 2;

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return v.map((x) => x / n);
}

/** Items around `centres` (one blob per entry of `sizes`), with a unit spread `spread`. */
function blobs(label: number, sizes: number[], seed: number, spread = 0.05): CohortItem[] {
  const rng = seededRng(seed);
  const items: CohortItem[] = [];
  for (const size of sizes) {
    const centre = Float32Array.from({ length: CLIP_DIM }, () => rng.normal());
    for (let i = 0; i < size; i++) {
      const clip = normalise(centre.map((c) => c + spread * rng.normal()));
      const cond = Float32Array.from({ length: COND_DIM }, () => rng.normal());
      items.push({ label, clip, cond });
    }
  }
  return items;
}

const policy = { k: 3, allowInstance: false };

function checkInvariants(items: CohortItem[], out: CohortResult, k: number): void {
  const seen = new Set<number>();
  for (const row of out.rows) {
    expect(row.count).toBe(row.members.length);
    expect(row.count).toBeGreaterThanOrEqual(k);
    for (const m of row.members) {
      expect(seen.has(m)).toBe(false);
      seen.add(m);
      expect(items[m]!.label).toBe(row.label);
    }
  }
  const suppressedLabels = new Set(out.suppressed.map((s) => s.label));
  const emitted = items.filter((it) => !suppressedLabels.has(it.label)).length;
  expect(out.rows.reduce((s, r) => s + r.count, 0)).toBe(emitted);
}

describe('instance aggregation', () => {
  const items = blobs(0, [4], 1);
  it('is refused unless the policy allows instance rows', () => {
    expect(() => buildCohorts(items, { mode: 'instance', policy })).toThrow(
      /Instance aggregation refused.*allowInstance = false/,
    );
  });
  it('gives one row per image when allowed', () => {
    const out = buildCohorts(items, { mode: 'instance', policy: { k: 3, allowInstance: true } });
    expect(out.rows).toHaveLength(4);
    expect(out.rows.every((r) => r.count === 1)).toBe(true);
  });
});

describe('class aggregation', () => {
  const items = [...blobs(0, [7], 1), ...blobs(1, [2], 2), ...blobs(2, [3], 3)];
  const out = buildCohorts(items, { mode: 'class', policy });

  it('emits the mean of each class with >= k images and suppresses the rest with a reason', () => {
    expect(out.rows.map((r) => [r.label, r.count])).toEqual([
      [0, 7],
      [2, 3],
    ]);
    expect(out.suppressed).toEqual([
      {
        label: 1,
        count: 2,
        reason: expect.stringMatching(
          /2 distinct patient\(s\)\/image\(s\) \(2 files\), fewer than k = 3/,
        ),
      },
    ]);
    checkInvariants(items, out, 3);
  });

  it('row cond and centroid are the member means', () => {
    const row = out.rows[1]!;
    for (const j of [0, 50, COND_DIM - 1]) {
      const mean = row.members.reduce((s, m) => s + items[m]!.cond[j]!, 0) / row.count;
      expect(row.cond[j]).toBeCloseTo(mean, 5);
    }
    const c0 = row.members.reduce((s, m) => s + items[m]!.clip[0]!, 0) / row.count;
    expect(row.centroid[0]).toBeCloseTo(c0, 5);
  });
});

describe('cluster aggregation', () => {
  // Class 0: blobs of 6, 5, 4 and one distinctive image far from all of them.
  const items = [...blobs(0, [6, 5, 4, 1], 11), ...blobs(1, [2], 12), ...blobs(2, [9], 13)];
  const outlier = 15;

  it('never lets a one-image cluster leave; every row has >= k images', () => {
    const out = buildCohorts(items, { mode: 'cluster', policy, seed: 1 });
    checkInvariants(items, out, 3);
    const withOutlier = out.rows.find((r) => r.members.includes(outlier))!;
    expect(withOutlier.count).toBeGreaterThanOrEqual(3);
    expect(out.suppressed.map((s) => s.label)).toEqual([1]);
  });

  it('finds the blobs (the outlier merged into its nearest one)', () => {
    const out = buildCohorts(items, { mode: 'cluster', policy, seed: 1 });
    const class0 = out.rows
      .filter((r) => r.label === 0)
      .map((r) => r.count)
      .sort((a, b) => a - b);
    expect(class0.reduce((a, b) => a + b, 0)).toBe(16);
    expect(class0.length).toBeGreaterThanOrEqual(3);
    // Blob members stay together: the 6-blob (indices 0..5) is in one row.
    const rowOf0 = out.rows.find((r) => r.members.includes(0))!;
    for (let i = 0; i < 6; i++) expect(rowOf0.members).toContain(i);
  });

  it('is deterministic for the same seed', () => {
    const a = buildCohorts(items, { mode: 'cluster', policy, seed: 42 });
    const b = buildCohorts(items, { mode: 'cluster', policy, seed: 42 });
    expect(b.rows.map((r) => r.members)).toEqual(a.rows.map((r) => r.members));
    expect(Array.from(b.rows[0]!.cond)).toEqual(Array.from(a.rows[0]!.cond));
  });

  it('caps the number of clusters per class', () => {
    const out = buildCohorts(items, { mode: 'cluster', policy, seed: 1, maxClustersPerClass: 1 });
    expect(out.rows.filter((r) => r.label === 0)).toHaveLength(1);
    expect(out.rows.filter((r) => r.label === 2)).toHaveLength(1);
  });

  it('holds the invariants for any class sizes, k and seed', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 14 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 1000 }),
        (sizes, k, seed) => {
          const data = sizes.flatMap((n, label) =>
            blobs(
              label,
              n > 0 ? [Math.ceil(n / 2), Math.floor(n / 2)].filter((s) => s > 0) : [],
              seed + label,
              0.5,
            ),
          );
          const out = buildCohorts(data, {
            mode: 'cluster',
            policy: { k, allowInstance: false },
            seed,
          });
          checkInvariants(data, out, k);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('input validation', () => {
  it('rejects mixed embedding sizes with a clear message', () => {
    const items = blobs(0, [3], 1);
    items.push({
      label: 0,
      clip: new Float32Array(CLIP_DIM + 1),
      cond: new Float32Array(COND_DIM),
    });
    expect(() => buildCohorts(items, { mode: 'class', policy })).toThrow(/same CLIP model/);
  });
});

describe('privacy units (patients / distinct pictures) are what k counts', () => {
  it('five files of one unit do not make a class row of k = 5', () => {
    const items = blobs(0, [5], 11).map((it) => ({ ...it, unit: 0 }));
    const out = buildCohorts(items, { mode: 'class', policy: { k: 5, allowInstance: false } });
    expect(out.rows).toEqual([]);
    expect(out.suppressed[0]).toMatchObject({
      count: 1,
      reason: expect.stringMatching(/1 distinct .* \(5 files\), fewer than k = 5/),
    });
  });

  it('cluster mode cannot give one patient’s series a row of its own', () => {
    // One patient with 6 images far from 6 other patients' images: a file-counting k-means makes it a row.
    const series = blobs(0, [6], 21, 0.01).map((it) => ({ ...it, unit: 100 }));
    const others = blobs(0, [6], 22, 0.01).map((it, i) => ({ ...it, unit: i }));
    const items = [...series, ...others];
    const out = buildCohorts(items, {
      mode: 'cluster',
      policy: { k: 3, allowInstance: false },
      seed: 1,
    });
    for (const row of out.rows) expect(row.count).toBeGreaterThanOrEqual(3);
    const seriesRow = out.rows.find((r) => r.members.includes(0))!;
    expect(seriesRow.units.length).toBe(seriesRow.count);
    expect(seriesRow.count).toBeGreaterThanOrEqual(3);
  });

  it('each unit adds one vector: the row mean is the mean of the units’ means', () => {
    const items = blobs(0, [4], 31);
    items.forEach((it, i) => (it.unit = i < 3 ? 0 : 1));
    const [row] = buildCohorts(items, {
      mode: 'class',
      policy: { k: 2, allowInstance: false },
    }).rows;
    const unit0 = items.slice(0, 3).map((x) => x.cond);
    const expected = new Float32Array(COND_DIM).map(
      (_, d) => ((unit0[0]![d]! + unit0[1]![d]! + unit0[2]![d]!) / 3 + items[3]!.cond[d]!) / 2,
    );
    for (let d = 0; d < COND_DIM; d++) expect(row!.cond[d]).toBeCloseTo(expected[d]!, 5);
    expect(row!.count).toBe(2);
  });
});
