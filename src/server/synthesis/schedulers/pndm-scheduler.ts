import { createNoiseSchedule } from './noise-schedule';
import { assertSameLength, type Scheduler } from './scheduler';
import { assertSupported, type PredictionType, type SchedulerConfig } from './scheduler-config';
import { spacedTimesteps } from './timestep-spacing';

/**
 * diffusers' PNDMScheduler (Liu et al. 2022, "Pseudo Numerical Methods for Diffusion Models"),
 * the scheduler Stable Diffusion 1.x/2.x ship with. With `skip_prk_steps` (what SD configs set) it
 * is crowsonkb's PLMS: the second timestep is repeated so that the first two UNet calls form a
 * Heun-like step, then linear multistep of order 2, 3 and 4 on the history of model outputs.
 * Without it, four Runge-Kutta (PRK) warm-up steps of four calls each come first.
 */
export class PndmScheduler implements Scheduler {
  readonly name = 'pndm';
  readonly initNoiseSigma = 1;
  readonly timesteps: readonly number[];

  private readonly alphasCumprod: Float64Array;
  private readonly finalAlphaCumprod: number;
  private readonly predictionType: PredictionType;
  private readonly skipPrkSteps: boolean;
  private readonly prkTimesteps: readonly number[];
  /** num_train_timesteps // num_inference_steps: the gap diffusers assumes between timesteps. */
  private readonly stride: number;
  private readonly numInferenceSteps: number;

  private ets: Float32Array[] = [];
  private counter = 0;
  private curModelOutput: Float64Array | null = null;
  private curSample: Float32Array | null = null;

  constructor(config: SchedulerConfig, steps: number) {
    assertSupported(config, 'pndm');
    if (config.prediction_type === 'sample') {
      throw new Error(
        "PNDM supports prediction_type 'epsilon' or 'v_prediction', not 'sample': use DDIM or Euler.",
      );
    }
    const schedule = createNoiseSchedule(config);
    const n = config.num_train_timesteps;
    this.alphasCumprod = schedule.alphasCumprod;
    // PNDMScheduler's default is set_alpha_to_one=false: the last step lands on alphas_cumprod[0].
    this.finalAlphaCumprod = config.set_alpha_to_one ? 1 : schedule.alphasCumprod[0]!;
    this.predictionType = config.prediction_type;
    this.skipPrkSteps = config.skip_prk_steps;
    this.numInferenceSteps = steps;
    this.stride = Math.floor(n / steps);

    // diffusers' `_timesteps` ascends; spacedTimesteps gives them highest first.
    const ts = spacedTimesteps(
      config.timestep_spacing ?? 'leading',
      n,
      steps,
      config.steps_offset,
      'integer',
    ).reverse();
    if (this.skipPrkSteps) {
      this.prkTimesteps = [];
      // [t0..t_{n-2}, t_{n-2}, t_{n-1}] reversed: the second-highest timestep appears twice.
      const plms = [...ts.slice(0, -1), ...ts.slice(-2, -1), ...ts.slice(-1)].reverse();
      this.timesteps = plms;
    } else {
      if (steps < 4) {
        throw new Error(
          `PNDM with skip_prk_steps=false needs at least 4 inference steps (got ${steps}); use 4 or more.`,
        );
      }
      const half = Math.floor(Math.floor(n / steps) / 2);
      const lastFour = ts.slice(-4);
      const prk = lastFour.flatMap((t) => [t, t + half]);
      const repeated = prk.slice(0, -1).flatMap((t) => [t, t]);
      this.prkTimesteps = repeated.slice(1, -1).reverse();
      const plms = ts.slice(0, -3).reverse();
      this.timesteps = [...this.prkTimesteps, ...plms];
    }
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    assertSameLength(modelOutput, sample, 'PNDM');
    if (this.counter < this.prkTimesteps.length && !this.skipPrkSteps)
      return this.stepPrk(modelOutput, t, sample);
    return this.stepPlms(modelOutput, t, sample);
  }

  /** Runge-Kutta warm-up: four calls per step, weights 1/6, 1/3, 1/3, 1/6. */
  private stepPrk(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(this.stride / 2);
    const prevTimestep = t - diffToPrev;
    const timestep = this.prkTimesteps[Math.floor(this.counter / 4) * 4]!;
    let output: ArrayLike<number> = modelOutput;
    const phase = this.counter % 4;
    if (phase === 0) {
      this.curModelOutput = accumulate(this.curModelOutput, modelOutput, 1 / 6);
      this.ets.push(Float32Array.from(modelOutput));
      this.curSample = Float32Array.from(sample);
    } else if (phase === 1 || phase === 2) {
      this.curModelOutput = accumulate(this.curModelOutput, modelOutput, 1 / 3);
    } else {
      output = accumulate(this.curModelOutput, modelOutput, 1 / 6);
      this.curModelOutput = null;
    }
    const prev = this.prevSample(this.curSample ?? sample, timestep, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  /** Linear multistep on the model-output history (`ets`), after diffusers' step_plms. */
  private stepPlms(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    if (!this.skipPrkSteps && this.ets.length < 3) {
      throw new Error(
        'PNDM: PLMS steps need the Runge-Kutta warm-up first; step through scheduler.timesteps in order.',
      );
    }
    let timestep = t;
    let prevTimestep = t - this.stride;
    if (this.counter !== 1) {
      // Only the last four outputs are ever used.
      this.ets = this.ets.slice(-3);
      this.ets.push(Float32Array.from(modelOutput));
    } else {
      // The repeated timestep: redo the first step from the same start with the averaged output.
      prevTimestep = t;
      timestep = t + this.stride;
    }

    const e = this.ets;
    const len = e.length;
    let output: ArrayLike<number>;
    let from = sample;
    if (len === 1 && this.counter === 0) {
      output = modelOutput;
      this.curSample = Float32Array.from(sample);
    } else if (len === 1 && this.counter === 1) {
      const e1 = e[0]!;
      output = combine(sample.length, (i) => (modelOutput[i]! + e1[i]!) / 2);
      from = this.curSample!;
      this.curSample = null;
    } else if (len === 2) {
      const [a, b] = [e[1]!, e[0]!];
      output = combine(sample.length, (i) => (3 * a[i]! - b[i]!) / 2);
    } else if (len === 3) {
      const [a, b, c] = [e[2]!, e[1]!, e[0]!];
      output = combine(sample.length, (i) => (23 * a[i]! - 16 * b[i]! + 5 * c[i]!) / 12);
    } else {
      const [a, b, c, d] = [e[3]!, e[2]!, e[1]!, e[0]!];
      output = combine(
        sample.length,
        (i) => (1 / 24) * (55 * a[i]! - 59 * b[i]! + 37 * c[i]! - 9 * d[i]!),
      );
    }
    const prev = this.prevSample(from, timestep, prevTimestep, output);
    this.counter += 1;
    return prev;
  }

  /** Formula (9) of the PNDM paper: x_{t-δ} from x_t and the (combined) noise estimate. */
  private prevSample(
    sample: Float32Array,
    timestep: number,
    prevTimestep: number,
    modelOutput: ArrayLike<number>,
  ): Float32Array {
    const alphaProdT = this.alphaAt(timestep);
    const alphaProdPrev = prevTimestep >= 0 ? this.alphaAt(prevTimestep) : this.finalAlphaCumprod;
    const betaProdT = 1 - alphaProdT;
    const betaProdPrev = 1 - alphaProdPrev;
    const sampleCoeff = Math.sqrt(alphaProdPrev / alphaProdT);
    const denom =
      alphaProdT * Math.sqrt(betaProdPrev) + Math.sqrt(alphaProdT * betaProdT * alphaProdPrev);
    const outputCoeff = (alphaProdPrev - alphaProdT) / denom;
    const v = this.predictionType === 'v_prediction';
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i]!;
      const eps = v
        ? Math.sqrt(alphaProdT) * modelOutput[i]! + Math.sqrt(betaProdT) * x
        : modelOutput[i]!;
      out[i] = sampleCoeff * x - outputCoeff * eps;
    }
    return out;
  }

  private alphaAt(timestep: number): number {
    const a = this.alphasCumprod[timestep];
    if (a === undefined) {
      throw new Error(
        `PNDM: timestep ${timestep} is outside the training schedule (0..${this.alphasCumprod.length - 1}); ` +
          `pass the entries of scheduler.timesteps (${this.numInferenceSteps} steps) in order.`,
      );
    }
    return a;
  }
}

function accumulate(acc: Float64Array | null, x: Float32Array, weight: number): Float64Array {
  const out = acc ?? new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = out[i]! + weight * x[i]!;
  return out;
}

function combine(length: number, f: (i: number) => number): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = f(i);
  return out;
}
