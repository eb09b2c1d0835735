import { createEulerSigmas, indexForTimestep, scaleBySigma } from './euler-sigmas';
import { assertSameLength, type Scheduler } from './scheduler';
import {
  assertSupported,
  type PredictionType,
  type SchedulerConfig,
  type TimestepSpacing,
} from './scheduler-config';

/**
 * diffusers' EulerDiscreteScheduler with s_churn = 0 (its pipeline default): a deterministic
 * Euler step in sigma space. SD-Turbo runs it with trailing spacing, so one step goes from
 * timestep 999 (sigma_max) straight to sigma 0, i.e. returns the predicted x0.
 */
export class EulerScheduler implements Scheduler {
  readonly name: 'euler' | 'turbo';
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** One per timestep plus the final sigma (0, or sigma_min with final_sigmas_type=sigma_min). */
  readonly sigmas: Float64Array;

  private readonly predictionType: PredictionType;
  private stepIndex: number | null = null;

  /** `turbo` forces trailing spacing; `euler` uses the config's (class default linspace, as SD 1.x/2.x configs carry none). */
  constructor(config: SchedulerConfig, steps: number, variant: 'euler' | 'turbo' = 'euler') {
    this.name = variant;
    assertSupported(config, variant);
    const spacing: TimestepSpacing =
      variant === 'turbo' ? 'trailing' : (config.timestep_spacing ?? 'linspace');
    const schedule = createEulerSigmas(config, steps, spacing, config.final_sigmas_type);
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = schedule.initNoiseSigma;
    this.predictionType = config.prediction_type;
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    this.stepIndex ??= indexForTimestep(this.timesteps, t, 'Euler');
    return scaleBySigma(sample, this.sigmas[this.stepIndex]!);
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    assertSameLength(modelOutput, sample, 'Euler');
    this.stepIndex ??= indexForTimestep(this.timesteps, t, 'Euler');
    const sigma = this.sigmas[this.stepIndex]!;
    const sigmaNext = this.sigmas[this.stepIndex + 1];
    if (sigmaNext === undefined) {
      throw new Error(
        'Euler: stepped past the last timestep; call step once per entry of scheduler.timesteps.',
      );
    }
    const dt = sigmaNext - sigma;
    const vScale = -sigma / Math.sqrt(sigma ** 2 + 1);
    const vSkip = 1 / (sigma ** 2 + 1);

    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      const x0 =
        this.predictionType === 'epsilon'
          ? x - sigma * m
          : this.predictionType === 'sample'
            ? m
            : m * vScale + x * vSkip;
      out[i] = x + ((x - x0) / sigma) * dt;
    }
    this.stepIndex += 1;
    return out;
  }
}
