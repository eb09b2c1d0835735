import { dirichlet, seededUniform } from './seeded-random';

/**
 * Split labelled items across sites with Dirichlet(β) label skew, as in the paper's non-IID
 * setup: for every class, site shares ~ Dir(β). Small β → each class concentrates on few sites.
 * Redraws (up to 100 times, deterministically) until every site has at least `minPerSite` items.
 */
export function dirichletSplit(
  labels: readonly number[],
  sites: number,
  beta: number,
  seed: number,
  minPerSite = 10,
): number[][] {
  if (sites < 1) throw new Error('at least one site is needed');
  if (!(beta > 0)) throw new Error('β must be > 0');
  if (labels.length < sites * minPerSite)
    throw new Error(`${labels.length} images cannot give ${sites} sites ${minPerSite} each; lower --sites or add images`);
  const rand = seededUniform(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  for (let attempt = 0; attempt < 100; attempt++) {
    const parts: number[][] = Array.from({ length: sites }, () => []);
    for (const idx of [...byClass.keys()].sort((a, b) => a - b).map((c) => byClass.get(c)!)) {
      const p = dirichlet(rand, beta, sites);
      // Largest-remainder rounding so every item is assigned exactly once.
      const raw = p.map((x) => x * idx.length);
      const counts = raw.map(Math.floor);
      let left = idx.length - counts.reduce((a, b) => a + b, 0);
      const order = raw.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
      for (const [, i] of order) if (left-- > 0) counts[i]!++;
      let at = 0;
      counts.forEach((c, s) => {
        parts[s]!.push(...idx.slice(at, at + c));
        at += c;
      });
    }
    if (parts.every((p) => p.length >= minPerSite)) return parts.map((p) => p.sort((a, b) => a - b));
  }
  throw new Error(`no Dirichlet(β=${beta}) split gave every site ≥ ${minPerSite} images in 100 draws; raise β or add images`);
}
