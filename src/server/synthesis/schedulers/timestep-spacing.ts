import { arange, linspace, roundHalfEven } from './numpy-compat';
import type { TimestepSpacing } from './scheduler-config';

/**
 * The inference timesteps of `set_timesteps`, highest first, for one of the three spacings of
 * "Common Diffusion Noise Schedules and Sample Steps are Flawed" (Table 2), as diffusers computes
 * them. `integer` schedulers (PNDM, DDIM) round linspace values to ints; Euler schedulers keep
 * them as float32.
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  numTrainTimesteps: number,
  steps: number,
  stepsOffset: number,
  values: 'integer' | 'float32',
): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > numTrainTimesteps) {
    throw new Error(
      `Cannot schedule ${steps} inference steps: use a whole number from 1 to num_train_timesteps (${numTrainTimesteps}).`,
    );
  }
  switch (spacing) {
    case 'linspace': {
      const ts = linspace(0, numTrainTimesteps - 1, steps);
      return ts.map((t) => (values === 'integer' ? roundHalfEven(t) : Math.fround(t))).reverse();
    }
    case 'leading': {
      const ratio = Math.floor(numTrainTimesteps / steps);
      return Array.from({ length: steps }, (_, i) => i * ratio + stepsOffset).reverse();
    }
    case 'trailing': {
      const ratio = numTrainTimesteps / steps;
      return arange(numTrainTimesteps, 0, -ratio).map((t) => roundHalfEven(t) - 1);
    }
  }
}
