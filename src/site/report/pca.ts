/**
 * 2-D PCA for the privacy report's scatter plots (local images vs outgoing rows).
 *
 * The top two eigenvectors come from power iteration with deflation, on the d×d covariance
 * when n > d and on the n×n Gram matrix of the centred data when n <= d (conditioning vectors
 * have d = 77·D, far more than the number of images). Deterministic: a fixed start vector and
 * a sign convention (each component's largest-magnitude coordinate is positive).
 */

export interface PcaFit {
  /** Data coordinates in the plane of the top two components. */
  points: [number, number][];
  /** Variance along each component (eigenvalues of the sample covariance, denominator n − 1). */
  explainedVariance: [number, number];
  /** explainedVariance divided by the total variance (0 when the data has no variance). */
  explainedVarianceRatio: [number, number];
  mean: Float32Array;
  /** Unit vectors; a zero vector when the data spans fewer dimensions than the component index. */
  components: [Float32Array, Float32Array];
}

export interface PcaOptions {
  maxIterations?: number;
  tolerance?: number;
}

interface Eigen {
  value: number;
  vector: Float64Array;
}

/** y = M x for a dense symmetric m×m matrix stored row-major. */
function matVec(M: Float64Array, m: number, x: Float64Array): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    const row = i * m;
    for (let j = 0; j < m; j++) s += M[row + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Fixed, "generic" start vector: no randomness, and almost surely not orthogonal to any eigenvector. */
function startVector(m: number): Float64Array {
  const v = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const x = Math.sin((i + 1) * 12.9898) * 43758.5453;
    v[i] = 0.5 + (x - Math.floor(x));
  }
  return v;
}

function orthonormalize(v: Float64Array, against: readonly Eigen[]): number {
  for (const e of against) {
    const p = dot(v, e.vector);
    for (let i = 0; i < v.length; i++) v[i]! -= p * e.vector[i]!;
  }
  const n = Math.sqrt(dot(v, v));
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return n;
}

/** Power iteration for the top eigenpair of M deflated by the pairs already found. */
function topEigen(
  M: Float64Array,
  m: number,
  found: readonly Eigen[],
  maxIterations: number,
  tolerance: number,
): Eigen {
  let v = startVector(m);
  if (orthonormalize(v, found) === 0) return { value: 0, vector: new Float64Array(m) };
  let value = 0;
  for (let it = 0; it < maxIterations; it++) {
    const w = matVec(M, m, v);
    for (const e of found) {
      const p = e.value * dot(e.vector, v);
      for (let i = 0; i < m; i++) w[i]! -= p * e.vector[i]!;
    }
    value = dot(v, w);
    // Re-orthogonalising each step keeps rounding from leaking the deflated directions back in.
    if (orthonormalize(w, found) === 0) return { value: 0, vector: new Float64Array(m) };
    let diff = 0;
    for (let i = 0; i < m; i++) diff = Math.max(diff, Math.abs(w[i]! - v[i]!));
    v = w;
    if (diff < tolerance) break;
  }
  return { value: Math.max(0, value), vector: v };
}

function signFlip(v: Float64Array): void {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[best]!)) best = i;
  if (v[best]! < 0) for (let i = 0; i < v.length; i++) v[i] = -v[i]!;
}

/** Fit a 2-D PCA to the vectors and return their coordinates in the plane. */
export function pca2d(vectors: readonly Float32Array[], options: PcaOptions = {}): PcaFit {
  const n = vectors.length;
  if (n === 0) throw new Error('pca2d needs at least one vector; there is nothing to plot');
  const d = vectors[0]!.length;
  vectors.forEach((v, i) => {
    if (v.length !== d)
      throw new Error(
        `pca2d: vector ${i} has ${v.length} values, the first has ${d}; project one embedding space at a time`,
      );
  });
  const maxIterations = options.maxIterations ?? 1000;
  const tolerance = options.tolerance ?? 1e-10;

  const mean64 = new Float64Array(d);
  for (const v of vectors) for (let j = 0; j < d; j++) mean64[j]! += v[j]!;
  for (let j = 0; j < d; j++) mean64[j]! /= n;
  const X = vectors.map((v) => {
    const c = new Float64Array(d);
    for (let j = 0; j < d; j++) c[j] = v[j]! - mean64[j]!;
    return c;
  });
  let total = 0;
  for (const x of X) total += dot(x, x);
  const denom = Math.max(1, n - 1);
  total /= denom;

  const comps: Float64Array[] = [];
  const vars: number[] = [];
  if (n <= d) {
    // Gram route: G = X Xᵀ shares its nonzero eigenvalues with XᵀX; component = Xᵀu / sqrt(λ).
    const G = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        const g = dot(X[i]!, X[j]!);
        G[i * n + j] = g;
        G[j * n + i] = g;
      }
    const found: Eigen[] = [];
    for (let c = 0; c < 2; c++) {
      const e = topEigen(G, n, found, maxIterations, tolerance);
      found.push(e);
      const comp = new Float64Array(d);
      if (e.value > 1e-12 * (found[0]!.value || 1) && e.value > 0) {
        for (let i = 0; i < n; i++)
          for (let j = 0; j < d; j++) comp[j]! += X[i]![j]! * e.vector[i]!;
        const norm = Math.sqrt(dot(comp, comp));
        for (let j = 0; j < d; j++) comp[j]! /= norm;
        vars.push(e.value / denom);
      } else vars.push(0);
      comps.push(comp);
    }
  } else {
    const C = new Float64Array(d * d);
    for (const x of X)
      for (let i = 0; i < d; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const row = i * d;
        for (let j = 0; j < d; j++) C[row + j]! += xi * x[j]!;
      }
    for (let i = 0; i < C.length; i++) C[i]! /= denom;
    const found: Eigen[] = [];
    for (let c = 0; c < 2; c++) {
      const e = topEigen(C, d, found, maxIterations, tolerance);
      found.push(e);
      const keep = e.value > 1e-12 * (found[0]!.value || 1) && e.value > 0;
      comps.push(keep ? e.vector : new Float64Array(d));
      vars.push(keep ? e.value : 0);
    }
  }
  for (const c of comps) signFlip(c);

  const components: [Float32Array, Float32Array] = [
    Float32Array.from(comps[0]!),
    Float32Array.from(comps[1]!),
  ];
  const mean = Float32Array.from(mean64);
  const explainedVariance: [number, number] = [vars[0]!, vars[1]!];
  const fit = { mean, components };
  return {
    points: project(vectors, fit),
    explainedVariance,
    explainedVarianceRatio: total > 0 ? [vars[0]! / total, vars[1]! / total] : [0, 0],
    mean,
    components,
  };
}

/** Place vectors in the plane of an existing fit (e.g. outgoing rows over the local images). */
export function project(
  vectors: readonly Float32Array[],
  fit: Pick<PcaFit, 'mean' | 'components'>,
): [number, number][] {
  const d = fit.mean.length;
  return vectors.map((v, i) => {
    if (v.length !== d)
      throw new Error(
        `project: vector ${i} has ${v.length} values but the fit has ${d}; fit and project the same embedding space`,
      );
    let a = 0;
    let b = 0;
    for (let j = 0; j < d; j++) {
      const c = v[j]! - fit.mean[j]!;
      a += c * fit.components[0][j]!;
      b += c * fit.components[1][j]!;
    }
    return [a, b];
  });
}
