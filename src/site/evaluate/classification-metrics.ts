/**
 * Classification metrics from predicted probabilities. Pure functions; `probs[i]` is the
 * model's probability vector for sample i, `labels[i]` its true class index.
 */
export type ClassMetrics = { name: string; precision: number; recall: number; f1: number; support: number; auroc: number | null };

export type Metrics = {
  samples: number;
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  /** Macro one-vs-rest AUROC over classes present with both positives and negatives; null if none. */
  macroAuroc: number | null;
  /** Expected calibration error, equal-width confidence bins. */
  ece: number;
  eceBins: { lower: number; upper: number; count: number; confidence: number; accuracy: number }[];
  /** confusion[true][predicted] */
  confusion: number[][];
  perClass: ClassMetrics[];
};

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** AUROC by the rank statistic (Mann–Whitney U), ties counted half. */
export function auroc(scores: readonly number[], positive: readonly boolean[]): number | null {
  const idx = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1]![0] === idx[i]![0]) j++;
    const r = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) ranks[idx[t]![1]] = r;
    i = j + 1;
  }
  let nPos = 0;
  let sumPos = 0;
  positive.forEach((p, i) => {
    if (p) {
      nPos++;
      sumPos += ranks[i]!;
    }
  });
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function computeMetrics(probs: readonly ArrayLike<number>[], labels: readonly number[], classes: readonly string[], bins = 10): Metrics {
  if (probs.length !== labels.length) throw new Error(`${probs.length} predictions for ${labels.length} labels`);
  const k = classes.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const preds = probs.map((p) => {
    if (p.length !== k) throw new Error(`model gives ${p.length} probabilities but there are ${k} classes`);
    return argmax(p);
  });
  labels.forEach((y, i) => {
    if (!(y >= 0 && y < k)) throw new Error(`label ${y} outside the ${k} classes`);
    confusion[y]![preds[i]!]!++;
  });
  const n = labels.length;
  const correct = preds.filter((p, i) => p === labels[i]).length;
  const perClass: ClassMetrics[] = classes.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c]!, 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    const a = auroc(
      probs.map((p) => p[c]!),
      labels.map((y) => y === c),
    );
    return { name, precision, recall, f1, support, auroc: a };
  });
  const present = perClass.filter((c) => c.support > 0);
  const aucs = perClass.map((c) => c.auroc).filter((a): a is number => a !== null);
  const eceBins = Array.from({ length: bins }, (_, b) => ({ lower: b / bins, upper: (b + 1) / bins, count: 0, confidence: 0, accuracy: 0 }));
  probs.forEach((p, i) => {
    const conf = p[preds[i]!]!;
    const b = eceBins[Math.min(bins - 1, Math.floor(conf * bins))]!;
    b.count++;
    b.confidence += conf;
    b.accuracy += preds[i] === labels[i] ? 1 : 0;
  });
  let ece = 0;
  for (const b of eceBins) {
    if (b.count === 0) continue;
    b.confidence /= b.count;
    b.accuracy /= b.count;
    ece += (b.count / n) * Math.abs(b.accuracy - b.confidence);
  }
  return {
    samples: n,
    accuracy: n > 0 ? correct / n : 0,
    balancedAccuracy: present.length > 0 ? present.reduce((s, c) => s + c.recall, 0) / present.length : 0,
    macroF1: present.length > 0 ? present.reduce((s, c) => s + c.f1, 0) / present.length : 0,
    macroAuroc: aucs.length > 0 ? aucs.reduce((a, b) => a + b, 0) / aucs.length : null,
    ece,
    eceBins,
    confusion,
    perClass,
  };
}
