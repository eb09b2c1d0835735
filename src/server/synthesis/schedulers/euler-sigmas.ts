import { createNoiseSchedule, trainingSigmas } from './noise-schedule';
import { interpOnIndex } from './numpy-compat';
import type { SchedulerConfig, TimestepSpacing } from './scheduler-config';
import { spacedTimesteps } from './timestep-spacing';

const f32 = Math.fround;

/**
 * The k-diffusion view of a discrete schedule that diffusers' Euler schedulers step through:
 * float32 timesteps, one sigma per timestep (interpolated in the training sigmas) plus a final
 * sigma, and the standard deviation of the initial latents.
 */
export interface EulerSigmas {
  readonly timesteps: number[];
  /** timesteps.length + 1 entries, the last one 0 (or sigma_min). */
  readonly sigmas: Float64Array;
  readonly initNoiseSigma: number;
}

export function createEulerSigmas(
  config: SchedulerConfig,
  steps: number,
  spacing: TimestepSpacing,
  finalSigma: 'zero' | 'sigma_min',
): EulerSigmas {
  const schedule = createNoiseSchedule(config);
  const train = trainingSigmas(schedule);
  const timesteps = spacedTimesteps(
    spacing,
    config.num_train_timesteps,
    steps,
    config.steps_offset,
    'float32',
  );
  const sigmas = new Float64Array(timesteps.length + 1);
  timesteps.forEach((t, i) => (sigmas[i] = f32(interpOnIndex(t, train))));
  sigmas[timesteps.length] = finalSigma === 'zero' ? 0 : train[0]!;
  const max = sigmas.reduce((a, b) => Math.max(a, b), 0);
  // diffusers: sigma_max for linspace/trailing, sqrt(sigma_max^2 + 1) for leading (its first timestep is lower).
  const initNoiseSigma = spacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  return { timesteps, sigmas, initNoiseSigma };
}

/**
 * diffusers' `index_for_timestep`: where a run starts in the schedule. If t occurs twice, the
 * second occurrence is taken so that a run started mid-schedule does not skip a sigma.
 */
export function indexForTimestep(
  timesteps: readonly number[],
  t: number,
  scheduler: string,
): number {
  const hits = timesteps.flatMap((v, i) => (v === t ? [i] : []));
  if (hits.length === 0) {
    throw new Error(
      `${scheduler}: timestep ${t} is not in scheduler.timesteps; pass its entries unchanged, in order.`,
    );
  }
  return hits.length > 1 ? hits[1]! : hits[0]!;
}

/** x / sqrt(sigma^2 + 1): the UNet sees unit-variance input although Euler latents have std ~ sigma. */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const scale = Math.sqrt(sigma * sigma + 1);
  return sample.map((x) => x / scale);
}
