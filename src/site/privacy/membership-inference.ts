/**
 * Membership inference: could someone holding the published model tell whether a given image was
 * one of a site's images? Two black-box attacks on a classifier's output probabilities, scored as
 * the AUC of member vs non-member (0.5 = no better than a coin):
 *
 *   loss threshold  (Yeom et al. 2018) the score is the loss (as the true class's log-odds, a
 *                   monotone function of it): members of an overfitted model have lower loss;
 *   shadow model    (Shokri et al. 2017) train models like the target on data whose membership is
 *                   known, fit an attack classifier on their outputs (features below), apply it to
 *                   the target's outputs.
 *
 * Pure functions; the experiment that trains targets and shadows is
 * src/cli/experiment/membership-experiment.ts (`fgl experiment membership`), its figures are in
 * docs/membership-inference.md and resources/privacy/membership-inference.json.
 */
import { seededRng } from './seeded-rng';

/** Smallest probability taken as is; float32 softmax outputs underflow below ~1e-38. */
const TINY = 1e-30;

/**
 * The loss attack's score: the true class's log-odds, log p(y) − log Σ_{c≠y} p(c). In exact
 * arithmetic a monotone function of the cross-entropy loss −log p(y), so thresholding it is
 * thresholding the loss; computed from the other classes' sum it stays informative where a model
 * is so sure that p(y) rounds to 1 in float32 (a memorised member).
 */
export function trueClassLogOdds(probs: Float32Array | readonly number[], label: number): number {
  let others = 0;
  for (let c = 0; c < probs.length; c++) if (c !== label) others += probs[c]!;
  return Math.log(Math.max(TINY, probs[label]!)) - Math.log(Math.max(TINY, others));
}

/**
 * What the shadow attack sees of one prediction: the true class's log-odds (its loss, above), the
 * log of the entropy, the top probability, the margin of the true class over the best other, and
 * whether the prediction is right.
 */
export function attackFeatures(probs: Float32Array | readonly number[], label: number): number[] {
  let entropy = 0;
  let top = 0;
  let other = 0;
  for (let c = 0; c < probs.length; c++) {
    const q = probs[c]!;
    if (q > 0) entropy -= q * Math.log(q);
    if (q > top) top = q;
    if (c !== label && q > other) other = q;
  }
  return [trueClassLogOdds(probs, label), Math.log(Math.max(TINY, entropy)), top, probs[label]! - other, probs[label]! >= top ? 1 : 0];
}

/**
 * Area under the ROC curve of `positive` against `negative` scores (higher = more likely positive):
 * the Mann–Whitney probability that a random positive outscores a random negative, ties counted ½.
 */
export function rocAuc(positive: readonly number[], negative: readonly number[]): number {
  if (positive.length === 0 || negative.length === 0)
    throw new Error(`AUC needs both classes: got ${positive.length} member and ${negative.length} non-member scores.`);
  const all = [...positive.map((s) => ({ s, pos: 1 })), ...negative.map((s) => ({ s, pos: 0 }))].sort((a, b) => a.s - b.s);
  // Mid-ranks over ties.
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.s === all[i]!.s) j++;
    const mid = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (all[t]!.pos === 1) rankSum += mid;
    i = j + 1;
  }
  const n1 = positive.length;
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n1 * negative.length);
}

export type AucWithCi = { auc: number; low: number; high: number; members: number; nonMembers: number };

/**
 * AUC with a percentile bootstrap 95 % interval: members and non-members are resampled with
 * replacement, each on its own, `rounds` times from a seeded generator.
 */
export function aucWithBootstrapCi(positive: readonly number[], negative: readonly number[], o: { rounds: number; seed: number }): AucWithCi {
  const auc = rocAuc(positive, negative);
  const rng = seededRng(o.seed);
  const draw = (xs: readonly number[]) => Array.from({ length: xs.length }, () => xs[Math.floor(rng.next() * xs.length)]!);
  const aucs: number[] = [];
  for (let b = 0; b < o.rounds; b++) aucs.push(rocAuc(draw(positive), draw(negative)));
  aucs.sort((a, b) => a - b);
  const at = (q: number) => aucs[Math.min(aucs.length - 1, Math.max(0, Math.floor(q * aucs.length)))] ?? auc;
  return { auc, low: at(0.025), high: at(0.975), members: positive.length, nonMembers: negative.length };
}

/** A logistic-regression attack model on standardised features. */
export type AttackModel = { mean: number[]; std: number[]; weights: number[]; bias: number };

/**
 * Fits the shadow attack: L2-regularised logistic regression (member = 1) by full-batch gradient
 * descent on standardised features. Deterministic: no random draw.
 */
export function fitAttackModel(features: readonly number[][], member: readonly boolean[], o: { iterations?: number; learningRate?: number; l2?: number } = {}): AttackModel {
  if (features.length !== member.length || features.length === 0) throw new Error('fitAttackModel: one membership flag per feature vector, and at least one.');
  if (!member.includes(true) || !member.includes(false)) throw new Error('fitAttackModel: the shadow data must hold both members and non-members.');
  const d = features[0]!.length;
  const n = features.length;
  const mean = Array.from({ length: d }, (_, j) => features.reduce((a, f) => a + f[j]!, 0) / n);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(features.reduce((a, f) => a + (f[j]! - mean[j]!) ** 2, 0) / n) || 1);
  const x = features.map((f) => f.map((v, j) => (v - mean[j]!) / std[j]!));
  const y = member.map((m) => (m ? 1 : 0));
  const w = new Array<number>(d).fill(0);
  let bias = 0;
  const iterations = o.iterations ?? 500;
  const lr = o.learningRate ?? 0.5;
  const l2 = o.l2 ?? 1e-3;
  for (let it = 0; it < iterations; it++) {
    const gw = new Array<number>(d).fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const z = bias + x[i]!.reduce((a, v, j) => a + v * w[j]!, 0);
      const err = 1 / (1 + Math.exp(-z)) - y[i]!;
      for (let j = 0; j < d; j++) gw[j]! += err * x[i]![j]!;
      gb += err;
    }
    for (let j = 0; j < d; j++) w[j]! -= lr * (gw[j]! / n + l2 * w[j]!);
    bias -= lr * (gb / n);
  }
  return { mean, std, weights: w, bias };
}

/** The attack model's logit for one feature vector (higher = more likely a member). */
export function attackScore(model: AttackModel, features: readonly number[]): number {
  return features.reduce((a, v, j) => a + ((v - model.mean[j]!) / model.std[j]!) * model.weights[j]!, model.bias);
}

/**
 * Members and non-members with the same class mix: per class, the first min(members, non-members)
 * of each. Without it a model's per-class difficulty would pass for membership signal.
 */
export function classMatched<T extends { label: number }>(members: readonly T[], nonMembers: readonly T[]): { members: T[]; nonMembers: T[] } {
  const by = (xs: readonly T[]) => {
    const m = new Map<number, T[]>();
    for (const x of xs) m.set(x.label, [...(m.get(x.label) ?? []), x]);
    return m;
  };
  const a = by(members);
  const b = by(nonMembers);
  const out = { members: [] as T[], nonMembers: [] as T[] };
  for (const label of [...a.keys()].sort((p, q) => p - q)) {
    const n = Math.min(a.get(label)!.length, b.get(label)?.length ?? 0);
    out.members.push(...a.get(label)!.slice(0, n));
    out.nonMembers.push(...(b.get(label) ?? []).slice(0, n));
  }
  return out;
}
