import { createRng } from '../../../src/server/training/seeded-random';

/** Gaussian clusters around random unit centres, projected onto the unit sphere. */
export function unitSphereClusters(opts: {
  classes: number;
  dim: number;
  perClass: number;
  noise: number;
  seed: number;
}): {
  features: Float32Array[];
  labels: number[];
} {
  const rng = createRng(opts.seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const unit = (v: Float32Array): Float32Array => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const centres = Array.from({ length: opts.classes }, () =>
    unit(Float32Array.from({ length: opts.dim }, gauss)),
  );
  const features: Float32Array[] = [];
  const labels: number[] = [];
  for (let i = 0; i < opts.perClass; i++) {
    for (let c = 0; c < opts.classes; c++) {
      const centre = centres[c]!;
      features.push(unit(centre.map((x) => x + (opts.noise / Math.sqrt(opts.dim)) * gauss())));
      labels.push(c);
    }
  }
  return { features, labels };
}
