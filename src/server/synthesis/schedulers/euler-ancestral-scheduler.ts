import { createEulerSigmas, indexForTimestep, scaleBySigma } from './euler-sigmas';
import { assertSameLength, requireNoise, type NormalSource, type Scheduler } from './scheduler';
import { assertSupported, type PredictionType, type SchedulerConfig } from './scheduler-config';

/**
 * diffusers' EulerAncestralDiscreteScheduler (k-diffusion `sample_euler_ancestral`, eta 1): an
 * Euler step down to sigma_down, then fresh noise of std sigma_up, with
 * sigma_down^2 + sigma_up^2 = sigma_next^2.
 */
export class EulerAncestralScheduler implements Scheduler {
  readonly name = 'euler-ancestral';
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** One per timestep plus a final 0. */
  readonly sigmas: Float64Array;

  private readonly predictionType: PredictionType;
  private stepIndex: number | null = null;

  constructor(config: SchedulerConfig, steps: number) {
    assertSupported(config, 'euler-ancestral');
    if (config.prediction_type === 'sample') {
      throw new Error(
        "Euler ancestral supports prediction_type 'epsilon' or 'v_prediction', not 'sample'.",
      );
    }
    // The class default spacing is linspace (SD 1.x/2.x configs carry no timestep_spacing key).
    const schedule = createEulerSigmas(
      config,
      steps,
      config.timestep_spacing ?? 'linspace',
      'zero',
    );
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.initNoiseSigma = schedule.initNoiseSigma;
    this.predictionType = config.prediction_type;
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    this.stepIndex ??= indexForTimestep(this.timesteps, t, 'Euler ancestral');
    return scaleBySigma(sample, this.sigmas[this.stepIndex]!);
  }

  step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    noise?: NormalSource,
  ): Float32Array {
    assertSameLength(modelOutput, sample, 'Euler ancestral');
    const draw = requireNoise(noise, 'Euler ancestral');
    this.stepIndex ??= indexForTimestep(this.timesteps, t, 'Euler ancestral');
    const sigma = this.sigmas[this.stepIndex]!;
    const sigmaTo = this.sigmas[this.stepIndex + 1];
    if (sigmaTo === undefined) {
      throw new Error(
        `Euler ancestral: stepped past the last timestep; call step once per entry of scheduler.timesteps.`,
      );
    }
    const sigmaUp = Math.sqrt((sigmaTo ** 2 * (sigma ** 2 - sigmaTo ** 2)) / sigma ** 2);
    const sigmaDown = Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2);
    const dt = sigmaDown - sigma;
    const vScale = -sigma / Math.sqrt(sigma ** 2 + 1);
    const vSkip = 1 / (sigma ** 2 + 1);

    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      const x0 = this.predictionType === 'epsilon' ? x - sigma * m : m * vScale + x * vSkip;
      const derivative = (x - x0) / sigma;
      // Noise is drawn at every step (also the last, where sigma_up is 0) so runs stay aligned per seed.
      out[i] = x + derivative * dt + draw() * sigmaUp;
    }
    this.stepIndex += 1;
    return out;
  }
}
