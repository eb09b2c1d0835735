/**
 * k-cohort aggregation: turns per-image conditioning embeddings into outgoing rows so that
 * every row (outside the explicitly allowed instance mode) represents at least k images.
 *
 *   instance  one row per image; refused unless the policy allows instance rows
 *   class     the mean conditioning of each class; classes with < k images are suppressed
 *   cluster   per class, seeded k-means++ / Lloyd in CLIP image space, then the smallest
 *             cluster is merged into its nearest centroid until every cluster has >= k images
 *
 * `members` and `centroid` are local-only (they index and summarise local images); only
 * label, count and cond are meant for the package.
 */
import type { Aggregation, PrivacyPolicy } from '../../shared/study';
import { seededRng } from './seeded-rng';
import type { Rng } from './seeded-rng';

export interface CohortItem {
  label: number;
  /** L2-normalised CLIP image embedding (stays on the site). */
  clip: Float32Array;
  /** Flattened [77·D] conditioning embedding of this image's prompt. */
  cond: Float32Array;
  /** Privacy unit (patient or distinct picture, privacy-units.ts); default: the item is its own unit. */
  unit?: number;
}

export interface CohortRow {
  label: number;
  /** Distinct privacy units (patients / distinct pictures) in the row: what k counts. */
  count: number;
  /** The members grouped by unit (local only): each unit adds one bounded vector to the row. */
  units: number[][];
  /** Indices into the input items; local only, never written to a package. */
  members: number[];
  /** Mean cond of the members. */
  cond: Float32Array;
  /** Mean CLIP embedding of the members (not re-normalised); local only, for checks and previews. */
  centroid: Float32Array;
}

export interface SuppressedGroup {
  label: number;
  count: number;
  reason: string;
}

export interface CohortResult {
  mode: Aggregation;
  k: number;
  rows: CohortRow[];
  suppressed: SuppressedGroup[];
}

export interface CohortOptions {
  mode: Aggregation;
  policy: Pick<PrivacyPolicy, 'k' | 'allowInstance'>;
  /** Seed of k-means++ initialisation (cluster mode). Same seed, same rows. */
  seed?: number;
  /** Upper bound on clusters per class (cluster mode); default floor(n / k). */
  maxClustersPerClass?: number;
  /** Lloyd iterations cap (cluster mode). */
  maxIterations?: number;
}

/** Aggregate items into rows under the policy; throws when the mode is not allowed. */
export function buildCohorts(items: readonly CohortItem[], options: CohortOptions): CohortResult {
  const k = options.policy.k;
  if (!(Number.isInteger(k) && k >= 1))
    throw new Error(`k must be an integer >= 1, got ${k}; check the study's privacy.k`);
  validateItems(items);
  if (options.mode === 'instance') {
    // Why: a one-image row is exactly what k-anonymity forbids; only an explicit study opt-in allows it.
    if (!options.policy.allowInstance)
      throw new Error(
        'Instance aggregation refused: the privacy policy does not allow one row per image (allowInstance = false). Use "cluster" or "class" aggregation, or ask the study coordinator to allow instance rows.',
      );
    const rows = items.map((it, i) => ({
      label: it.label,
      count: 1,
      units: [[i]],
      members: [i],
      cond: new Float32Array(it.cond),
      centroid: new Float32Array(it.clip),
    }));
    return { mode: 'instance', k, rows, suppressed: [] };
  }

  const byLabel = new Map<number, number[]>();
  items.forEach((it, i) => {
    const list = byLabel.get(it.label);
    if (list) list.push(i);
    else byLabel.set(it.label, [i]);
  });
  const labels = [...byLabel.keys()].sort((a, b) => a - b);
  const rows: CohortRow[] = [];
  const suppressed: SuppressedGroup[] = [];
  for (const label of labels) {
    const idx = byLabel.get(label)!;
    const units = unitGroups(items, idx);
    // Why: a class with fewer than k distinct units (patients / pictures) cannot form any row of k, so none of it leaves.
    if (units.length < k) {
      suppressed.push({
        label,
        count: units.length,
        reason: `class ${label} has ${units.length} distinct patient(s)/image(s) (${idx.length} files), fewer than k = ${k}; nothing from it is shared`,
      });
      continue;
    }
    if (options.mode === 'class') {
      rows.push(makeRow(items, label, idx));
      continue;
    }
    // Cluster units, not files: one patient's series (or copies of one picture) is one point, so it cannot form a row of its own.
    const unitItems = units.map((u) => ({
      label,
      clip: meanOf(u.map((i) => items[i]!.clip)),
      cond: items[u[0]!]!.cond,
    }));
    const groups = clusterClass(
      unitItems,
      units.map((_, u) => u),
      k,
      options,
      label,
    );
    for (const g of groups)
      rows.push(
        makeRow(
          items,
          label,
          g.flatMap((u) => units[u]!),
        ),
      );
  }
  return { mode: options.mode, k, rows, suppressed };
}

function validateItems(items: readonly CohortItem[]): void {
  if (items.length === 0) return;
  const clipDim = items[0]!.clip.length;
  const condDim = items[0]!.cond.length;
  items.forEach((it, i) => {
    if (!(Number.isInteger(it.label) && it.label >= 0))
      throw new Error(`item ${i}: label must be a class index >= 0, got ${it.label}`);
    if (it.clip.length !== clipDim)
      throw new Error(
        `item ${i}: CLIP embedding has ${it.clip.length} values, others have ${clipDim}; embed all images with the same CLIP model`,
      );
    if (it.cond.length !== condDim)
      throw new Error(
        `item ${i}: conditioning has ${it.cond.length} values, others have ${condDim}; use the study's one text encoder`,
      );
  });
}

function meanOf(vectors: Float32Array[]): Float32Array {
  const dim = vectors[0]!.length;
  const sum = new Float64Array(dim);
  for (const v of vectors) for (let i = 0; i < dim; i++) sum[i]! += v[i]!;
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = sum[i]! / vectors.length;
  return out;
}

/** The members of `idx` grouped by unit, in order of first appearance. */
function unitGroups(items: readonly CohortItem[], idx: readonly number[]): number[][] {
  const byUnit = new Map<number, number[]>();
  for (const i of idx) {
    const u = items[i]!.unit ?? -1 - i;
    const list = byUnit.get(u);
    if (list) list.push(i);
    else byUnit.set(u, [i]);
  }
  return [...byUnit.values()];
}

function makeRow(items: readonly CohortItem[], label: number, members: number[]): CohortRow {
  const sorted = [...members].sort((a, b) => a - b);
  const units = unitGroups(items, sorted);
  return {
    label,
    count: units.length,
    units,
    members: sorted,
    // Contribution bounding: each unit adds one vector (its members' mean), however many files it has.
    cond: meanOf(units.map((u) => meanOf(u.map((i) => items[i]!.cond)))),
    centroid: meanOf(sorted.map((i) => items[i]!.clip)),
  };
}

function sqDist(a: Float32Array, b: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

/** Seeded k-means++ then Lloyd on the CLIP embeddings of one class, then the >= k merge. */
function clusterClass(
  items: readonly CohortItem[],
  idx: number[],
  k: number,
  options: CohortOptions,
  label: number,
): number[][] {
  const n = idx.length;
  let target = Math.floor(n / k);
  if (options.maxClustersPerClass !== undefined) {
    if (!(Number.isInteger(options.maxClustersPerClass) && options.maxClustersPerClass >= 1))
      throw new Error(
        `maxClustersPerClass must be an integer >= 1, got ${options.maxClustersPerClass}`,
      );
    target = Math.min(target, options.maxClustersPerClass);
  }
  target = Math.max(1, target);
  const points = idx.map((i) => items[i]!.clip);
  // Seed mixes in the label so classes do not share an identical init sequence.
  const rng = seededRng(((options.seed ?? 0) ^ Math.imul(label + 1, 0x9e3779b1)) >>> 0);
  const centroids = kMeansPlusPlus(points, target, rng);
  const assign = lloyd(points, centroids, options.maxIterations ?? 50);

  const clusters: number[][] = centroids.map(() => []);
  assign.forEach((c, p) => clusters[c]!.push(p));
  let groups = clusters.filter((c) => c.length > 0);
  let cents = groups.map((g) => centroidOf(points, g));

  // Why: a cluster smaller than k would single out its few images; fold it into its nearest neighbour.
  while (groups.length > 1) {
    let smallest = 0;
    for (let g = 1; g < groups.length; g++)
      if (groups[g]!.length < groups[smallest]!.length) smallest = g;
    if (groups[smallest]!.length >= k) break;
    let nearest = -1;
    let best = Infinity;
    for (let g = 0; g < groups.length; g++) {
      if (g === smallest) continue;
      const d = sqDist64(cents[smallest]!, cents[g]!);
      if (d < best) {
        best = d;
        nearest = g;
      }
    }
    groups[nearest] = groups[nearest]!.concat(groups[smallest]!);
    cents[nearest] = centroidOf(points, groups[nearest]!);
    groups = groups.filter((_, g) => g !== smallest);
    cents = cents.filter((_, g) => g !== smallest);
  }
  // Deterministic order: by smallest member index.
  return groups
    .map((g) => g.map((p) => idx[p]!).sort((a, b) => a - b))
    .sort((a, b) => a[0]! - b[0]!);
}

function sqDist64(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

function centroidOf(points: Float32Array[], members: number[]): Float64Array {
  const dim = points[0]!.length;
  const c = new Float64Array(dim);
  for (const m of members) for (let i = 0; i < dim; i++) c[i]! += points[m]![i]!;
  for (let i = 0; i < dim; i++) c[i]! /= members.length;
  return c;
}

/** k-means++ seeding (Arthur & Vassilvitskii 2007): next centre drawn ∝ squared distance to the nearest chosen one. */
function kMeansPlusPlus(points: Float32Array[], count: number, rng: Rng): Float64Array[] {
  const n = points.length;
  const centres: Float64Array[] = [Float64Array.from(points[Math.floor(rng.next() * n)]!)];
  const d2 = points.map((p) => sqDist(p, centres[0]!));
  while (centres.length < count) {
    const total = d2.reduce((a, b) => a + b, 0);
    if (total <= 0) break; // all remaining points coincide with a centre: fewer distinct clusters
    let r = rng.next() * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= d2[i]!;
      if (r < 0) {
        pick = i;
        break;
      }
    }
    const c = Float64Array.from(points[pick]!);
    centres.push(c);
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i]!, sqDist(points[i]!, c));
  }
  return centres;
}

/** Lloyd iterations; returns each point's cluster. Ties go to the lower cluster index. */
function lloyd(points: Float32Array[], centres: Float64Array[], maxIterations: number): number[] {
  const assign = new Array<number>(points.length).fill(-1);
  for (let it = 0; it < maxIterations; it++) {
    let changed = false;
    for (let p = 0; p < points.length; p++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < centres.length; c++) {
        const d = sqDist(points[p]!, centres[c]!);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (assign[p] !== best) {
        assign[p] = best;
        changed = true;
      }
    }
    if (!changed) break;
    // One pass: accumulate member sums per cluster; empty clusters keep their centre and are dropped later.
    const dim = points[0]!.length;
    const sums = centres.map(() => new Float64Array(dim));
    const sizes = new Array<number>(centres.length).fill(0);
    for (let p = 0; p < points.length; p++) {
      const c = assign[p]!;
      sizes[c]!++;
      const sum = sums[c]!;
      const pt = points[p]!;
      for (let i = 0; i < dim; i++) sum[i]! += pt[i]!;
    }
    for (let c = 0; c < centres.length; c++) {
      if (sizes[c] === 0) continue;
      const sum = sums[c]!;
      for (let i = 0; i < dim; i++) sum[i]! /= sizes[c]!;
      centres[c] = sum;
    }
  }
  return assign;
}
