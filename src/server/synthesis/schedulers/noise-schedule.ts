import { linspace } from './numpy-compat';
import type { SchedulerConfig } from './scheduler-config';

const f32 = Math.fround;

/**
 * The training noise schedule every diffusers scheduler builds in its constructor: betas,
 * alphas = 1 - betas and their cumulative product. diffusers stores these as float32 tensors, so
 * every value here is rounded to float32 exactly where torch would round it (betas within one
 * float32 ulp of torch.linspace, which interpolates from both ends).
 */
export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
}

export function createNoiseSchedule(config: SchedulerConfig): NoiseSchedule {
  const n = config.num_train_timesteps;
  const betas = new Float64Array(n);
  if (config.trained_betas) {
    config.trained_betas.forEach((b, i) => (betas[i] = f32(b)));
  } else if (config.beta_schedule === 'linear') {
    linspace(f32(config.beta_start), f32(config.beta_end), n).forEach(
      (b, i) => (betas[i] = f32(b)),
    );
  } else if (config.beta_schedule === 'scaled_linear') {
    // Latent diffusion's schedule: linear in sqrt(beta), squared (in float32, as torch does).
    const roots = linspace(f32(Math.sqrt(config.beta_start)), f32(Math.sqrt(config.beta_end)), n);
    roots.forEach((r, i) => {
      const root = f32(r);
      betas[i] = f32(root * root);
    });
  } else {
    betasForAlphaBar(n).forEach((b, i) => (betas[i] = f32(b)));
  }
  const alphasCumprod = new Float64Array(n);
  // torch's CPU cumprod accumulates float32 in double and stores float32.
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= f32(1 - betas[i]!);
    alphasCumprod[i] = f32(acc);
  }
  return { numTrainTimesteps: n, betas, alphasCumprod };
}

/** GLIDE's cosine schedule (`squaredcos_cap_v2`), computed in double as diffusers does, capped at 0.999. */
function betasForAlphaBar(n: number, maxBeta = 0.999): number[] {
  const alphaBar = (t: number): number => Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2) ** 2;
  return Array.from({ length: n }, (_, i) =>
    Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta),
  );
}

/** k-diffusion sigmas of the training schedule, sqrt((1 - acp) / acp), in float32 as diffusers keeps them. */
export function trainingSigmas(schedule: NoiseSchedule): Float64Array {
  return schedule.alphasCumprod.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}
