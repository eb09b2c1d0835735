import { describe, expect, it } from 'vitest';
import { checkReleasedVector, checkSinglingOut } from '../../../src/site/privacy/singling-out';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

const DIM = 64;
const rng = seededRng(5);

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}
const randomVec = (): Float32Array => Float32Array.from({ length: DIM }, () => rng.normal());

// A tight cluster of 20 images and one distinctive image far from it.
const centre = unit(randomVec());
const cluster = Array.from({ length: 20 }, () => unit(centre.map((c) => c + 0.03 * rng.normal())));
const distinctive = unit(randomVec());
const images = [...cluster, distinctive];
const policy = { k: 5, singlingOutRatio: 1.25 };

function mean(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(DIM);
  for (const v of vs) for (let i = 0; i < DIM; i++) out[i]! += v[i]! / vs.length;
  return out;
}

describe('singling-out test', () => {
  it('blocks a row built from one distinctive image, passes a class-mean row', () => {
    const [single, classMean] = checkSinglingOut(
      [{ centroid: distinctive }, { centroid: mean(images) }],
      images,
      policy,
    );
    expect(single!.blocked).toBe(true);
    expect(single!.nearestIndex).toBe(20);
    expect(single!.nearest).toBeCloseTo(1, 5);
    expect(single!.ratio).toBeGreaterThan(1.25);
    expect(single!.reason).toMatch(/resembles one image far more than its 5-th nearest/);
    expect(classMean!.blocked).toBe(false);
    expect(classMean!.reason).toBeNull();
    expect(classMean!.ratio).toBeLessThan(1.05);
  });

  it('passes a single image that is indistinguishable among its k nearest', () => {
    const [r] = checkSinglingOut([{ centroid: cluster[3]! }], images, policy);
    expect(r!.blocked).toBe(false);
  });

  it('uses the text embedding when the row has one', () => {
    const [r] = checkSinglingOut([{ text: distinctive, centroid: mean(cluster) }], images, policy);
    expect(r!.blocked).toBe(true);
    const [s] = checkSinglingOut([{ text: null, centroid: mean(cluster) }], images, policy);
    expect(s!.blocked).toBe(false);
  });

  it('a stricter ratio blocks more', () => {
    const query = unit(centre.map((c, i) => c + 0.6 * cluster[0]![i]!));
    const loose = checkSinglingOut([{ centroid: query }], images, {
      k: 5,
      singlingOutRatio: 2,
    })[0]!;
    const strict = checkSinglingOut([{ centroid: query }], images, {
      k: 5,
      singlingOutRatio: 1,
    })[0]!;
    expect(loose.ratio).toBe(strict.ratio);
    expect(loose.ratio).toBeGreaterThan(1);
    expect(loose.blocked).toBe(false);
    expect(strict.blocked).toBe(true);
  });

  it('handles non-positive similarities by the +1 shift', () => {
    const e1 = Float32Array.from([1, 0, 0]);
    const e2 = Float32Array.from([0, 1, 0]);
    const minusE1 = Float32Array.from([-1, 0, 0]);
    const p = { k: 2, singlingOutRatio: 1.25 };
    // Nearest 1, 2nd nearest −1: (1+1)/(1−1) → Infinity, blocked.
    const [anti] = checkSinglingOut([{ centroid: e1 }], [e1, minusE1], p);
    expect(anti!.ratio).toBe(Infinity);
    expect(anti!.blocked).toBe(true);
    // Orthogonal to both: (1+0)/(1+0) = 1.
    const [orth] = checkSinglingOut([{ centroid: e2 }], [e1, minusE1], p);
    expect(orth!.ratio).toBe(1);
    expect(orth!.blocked).toBe(false);
    // Both similarities negative (−0.5 and ≈ −0.92): the shifted ratio 0.5/0.08 ≈ 6.2 blocks, whereas a
    // plain s1/sk would be ≈ 0.54 and pass although the query is far closer to one image.
    const q = Float32Array.from([-0.5, Math.sqrt(0.75), 0]);
    const a = Float32Array.from([1, 0, 0]);
    const b = Float32Array.from([0.8, -0.6, 0]);
    const [neg] = checkSinglingOut([{ centroid: q }], [a, b], p);
    expect(neg!.nearest).toBeCloseTo(-0.5, 6);
    expect(neg!.kth).toBeCloseTo(-0.4 - 0.6 * Math.sqrt(0.75), 6);
    expect(neg!.ratio).toBeCloseTo((1 - 0.5) / (1 + neg!.kth), 6);
    expect(neg!.blocked).toBe(true);
  });

  it('blocks everything when there are fewer than k local images', () => {
    const [r] = checkSinglingOut([{ centroid: centre }], cluster.slice(0, 3), policy);
    expect(r!.blocked).toBe(true);
    expect(r!.reason).toMatch(/only 3 local image\(s\), fewer than k = 5/);
  });

  it('rejects a query from another embedding space', () => {
    expect(() =>
      checkSinglingOut([{ centroid: new Float32Array(DIM + 1) }], images, policy),
    ).toThrow(/same CLIP model/);
  });
});

describe('singling-out on the vector sent', () => {
  const policy = { k: 3, singlingOutRatio: 1.25 };
  const mean = (vs: Float32Array[]) =>
    Float32Array.from(vs[0]!, (_, i) => vs.reduce((a, v) => a + v[i]!, 0) / vs.length);

  it('passes a row whose units all send the same vector (class prompts): ratio 1', () => {
    const v = Float32Array.from([1, 2, 3]);
    const r = checkReleasedVector(mean([v, v, v, v]), [v, v, v, v], policy);
    expect(r.ratio).toBeCloseTo(1, 12);
    expect(r.blocked).toBe(false);
  });

  it('blocks a row whose sent mean is one unit’s vector in all but name, and says what to do', () => {
    // One unit's vector is 50× the others': the mean points at it, whatever the row's count says.
    const big = Float32Array.from([50, 0, 0, 0]);
    const small = [
      Float32Array.from([0, 1, 0, 0]),
      Float32Array.from([0, 0, 1, 0]),
      Float32Array.from([0, 0, 0, 1]),
      Float32Array.from([0, -1, 0, 0]),
    ];
    const r = checkReleasedVector(mean([big, ...small]), [big, ...small], policy);
    expect(r.nearestIndex).toBe(0);
    expect(r.blocked).toBe(true);
    expect(r.reason).toMatch(
      /dominated by one patient\/picture.* Use a larger k, class aggregation, or differential privacy/,
    );
  });

  it('blocks a row with fewer units than k (duplicates already collapsed)', () => {
    const v = Float32Array.from([1, 0]);
    expect(checkReleasedVector(v, [v, v], policy)).toMatchObject({
      blocked: true,
      reason: expect.stringMatching(/only 2 distinct/),
    });
  });
});
