import { createNoiseSchedule } from './noise-schedule';
import { assertSameLength, requireNoise, type NormalSource, type Scheduler } from './scheduler';
import { assertSupported, type PredictionType, type SchedulerConfig } from './scheduler-config';
import { spacedTimesteps } from './timestep-spacing';

export interface DdimOptions {
  /** 0 = deterministic DDIM (the default), 1 = DDPM-like ancestral noise. */
  eta?: number;
}

/** diffusers' DDIMScheduler (Song et al. 2020, formulas (12) and (16)); no dynamic thresholding. */
export class DdimScheduler implements Scheduler {
  readonly name = 'ddim';
  readonly initNoiseSigma = 1;
  readonly timesteps: readonly number[];

  private readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly predictionType: PredictionType;
  private readonly clipRange: number | null;
  private readonly stride: number;
  private readonly eta: number;

  constructor(config: SchedulerConfig, steps: number, options: DdimOptions = {}) {
    assertSupported(config, 'ddim');
    const eta = options.eta ?? 0;
    if (!(eta >= 0 && eta <= 1)) throw new Error(`DDIM eta must be between 0 and 1 (got ${eta}).`);
    const schedule = createNoiseSchedule(config);
    const n = config.num_train_timesteps;
    this.alphasCumprod = schedule.alphasCumprod;
    // DDIMScheduler's class defaults differ from PNDM's: set_alpha_to_one and clip_sample are true.
    this.finalAlphaCumprod = (config.set_alpha_to_one ?? true) ? 1 : schedule.alphasCumprod[0]!;
    this.clipRange = (config.clip_sample ?? true) ? config.clip_sample_range : null;
    this.predictionType = config.prediction_type;
    this.stride = Math.floor(n / steps);
    this.eta = eta;
    this.timesteps = spacedTimesteps(
      config.timestep_spacing ?? 'leading',
      n,
      steps,
      config.steps_offset,
      'integer',
    );
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    noise?: NormalSource,
  ): Float32Array {
    assertSameLength(modelOutput, sample, 'DDIM');
    const prevTimestep = t - this.stride;
    const alphaProdT = this.alphasCumprod[t];
    if (alphaProdT === undefined) {
      throw new Error(
        `DDIM: timestep ${t} is outside the training schedule; pass the entries of scheduler.timesteps.`,
      );
    }
    const alphaProdPrev =
      prevTimestep >= 0 ? this.alphasCumprod[prevTimestep]! : this.finalAlphaCumprod;
    const betaProdT = 1 - alphaProdT;
    const betaProdPrev = 1 - alphaProdPrev;
    const sqrtA = Math.sqrt(alphaProdT);
    const sqrtB = Math.sqrt(betaProdT);

    const variance = (betaProdPrev / betaProdT) * (1 - alphaProdT / alphaProdPrev);
    const stdDev = this.eta * Math.sqrt(variance);
    const directionCoeff = Math.sqrt(1 - alphaProdPrev - stdDev * stdDev);
    const sqrtAPrev = Math.sqrt(alphaProdPrev);
    const draw = this.eta > 0 ? requireNoise(noise, 'DDIM with eta > 0') : null;

    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      let x0: number;
      let eps: number;
      if (this.predictionType === 'epsilon') {
        x0 = (x - sqrtB * m) / sqrtA;
        eps = m;
      } else if (this.predictionType === 'sample') {
        x0 = m;
        eps = (x - sqrtA * x0) / sqrtB;
      } else {
        x0 = sqrtA * x - sqrtB * m;
        eps = sqrtA * m + sqrtB * x;
      }
      // diffusers clips x0 but keeps eps from the unclipped prediction (use_clipped_model_output=false).
      if (this.clipRange !== null) x0 = Math.min(Math.max(x0, -this.clipRange), this.clipRange);
      let prev = sqrtAPrev * x0 + directionCoeff * eps;
      if (draw) prev += stdDev * draw();
      out[i] = prev;
    }
    return out;
  }
}
