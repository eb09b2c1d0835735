import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../src/server/synthesis/schedulers/create-scheduler';
import { createNoiseSchedule } from '../../../src/server/synthesis/schedulers/noise-schedule';
import type { Scheduler, SchedulerName } from '../../../src/server/synthesis/schedulers/scheduler';
import { parseSchedulerConfig } from '../../../src/server/synthesis/schedulers/scheduler-config';
import { expectClose } from './reference-fixtures';

/** stabilityai/stable-diffusion-2-1-base scheduler/scheduler_config.json */
const SD21_BASE = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.10.0.dev0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  clip_sample: false,
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
} as const;

const acp = createNoiseSchedule(parseSchedulerConfig(SD21_BASE)).alphasCumprod;
const x0 = Float32Array.from({ length: 12 }, (_, i) => Math.cos(i) * 0.8);
const eps = Float32Array.from({ length: 12 }, (_, i) => Math.sin(3 * i + 1));
const mix = (a: number, b: number, wa: number, wb: number): number => wa * a + wb * b;
/** The noisy sample q(x_t | x0) for the fixed (x0, eps) pair. */
const noisyAt = (alphaProd: number): Float32Array =>
  x0.map((v, i) => mix(v, eps[i]!, Math.sqrt(alphaProd), Math.sqrt(1 - alphaProd)));

describe('timesteps worked out by hand from the diffusers source', () => {
  it('PNDM (PLMS), SD 2.1 base, 50 steps: 981, 961, 961, 941, ... 21, 1 (51 UNet calls)', () => {
    const s = createScheduler('pndm', SD21_BASE, 50);
    const leading = Array.from({ length: 50 }, (_, i) => 981 - 20 * i);
    expect(s.timesteps).toEqual([981, 961, ...leading.slice(1)]);
    expect(s.timesteps).toHaveLength(51);
    expect(s.initNoiseSigma).toBe(1);
  });
  it('DDIM, SD 2.1 base: 20 steps are 951, 901, ... 1; 50 steps are 981 ... 1', () => {
    expect(createScheduler('ddim', SD21_BASE, 20).timesteps).toEqual(
      Array.from({ length: 20 }, (_, i) => 951 - 50 * i),
    );
    expect(createScheduler('ddim', SD21_BASE, 50).timesteps).toEqual(
      Array.from({ length: 50 }, (_, i) => 981 - 20 * i),
    );
  });
  it('round-half-even like numpy: linspace(0, 999, 7) -> 0, 166, 333, 500, 666, 832, 999', () => {
    const s = createScheduler('ddim', { ...SD21_BASE, timestep_spacing: 'linspace' }, 7);
    expect(s.timesteps).toEqual([999, 832, 666, 500, 333, 166, 0]);
  });
  it('trailing: 4 steps are 999, 749, 499, 249; 3 steps are 999, 666, 332', () => {
    expect(
      createScheduler('ddim', { ...SD21_BASE, timestep_spacing: 'trailing' }, 4).timesteps,
    ).toEqual([999, 749, 499, 249]);
    expect(
      createScheduler('ddim', { ...SD21_BASE, timestep_spacing: 'trailing' }, 3).timesteps,
    ).toEqual([999, 666, 332]);
  });
  it('Euler ancestral with the SD 2.1 config (no timestep_spacing key) uses its class default, linspace', () => {
    const s = createScheduler('euler-ancestral', SD21_BASE, 20);
    expect(s.timesteps[0]).toBe(999);
    expect(s.timesteps[19]).toBe(0);
    expect(s.timesteps[1]).toBe(Math.fround(999 - 999 / 19));
  });
});

describe('SD noise schedule against published values', () => {
  it('alphas_cumprod[0] = 1 - beta_start; k-diffusion sigma range 0.0292 .. 14.6146', () => {
    expect(acp[0]).toBeCloseTo(1 - 0.00085, 7);
    expect(Math.sqrt((1 - acp[0]!) / acp[0]!)).toBeCloseTo(0.0292, 4);
    expect(Math.sqrt((1 - acp[999]!) / acp[999]!)).toBeCloseTo(14.6146, 3);
  });
  it('turbo: one step at t=999 from sigma_max ~ 14.6146 to 0', () => {
    const s = createScheduler('turbo', SD21_BASE, 1);
    expect(s.timesteps).toEqual([999]);
    expect(s.initNoiseSigma).toBeCloseTo(14.6146, 3);
  });
});

/** Runs a scheduler with an oracle UNet that always predicts the true noise (or v) of (x0, eps). */
function runOracle(
  name: SchedulerName,
  config: Record<string, unknown>,
  steps: number,
  oracle: (s: Scheduler, t: number, input: Float32Array) => Float32Array,
  start: Float32Array,
): Float32Array[] {
  const s = createScheduler(name, config, steps);
  let x = start;
  const seen: Float32Array[] = [];
  for (const t of s.timesteps) {
    const input = s.scaleModelInput(x, t);
    x = s.step(oracle(s, t, input), t, x);
    seen.push(x);
  }
  return seen;
}

describe('an oracle noise predictor lands exactly on the forward process (PNDM is DDIM at eta 0)', () => {
  it('PNDM / PLMS: every step gives q(x_prev | x0); the last lands on alphas_cumprod[0] (set_alpha_to_one=false)', () => {
    const out = runOracle('pndm', SD21_BASE, 50, () => eps, noisyAt(acp[981]!));
    // After PLMS step k the sample belongs to timestep 961, 961, 941, ..., 1, then "0" = final alpha.
    const targets = [961, 961, ...Array.from({ length: 48 }, (_, i) => 941 - 20 * i)];
    targets.forEach((t, k) => expectClose(out[k]!, noisyAt(acp[t]!), `step ${k}`, 2e-5));
    expectClose(out[50]!, noisyAt(acp[0]!), 'final', 2e-5);
  });
  it('PNDM v_prediction: v = sqrt(a) eps - sqrt(1-a) x0 is converted back to eps (first step)', () => {
    // Only the first PLMS step is exact: later steps combine v's of different timesteps, as diffusers does.
    const s = createScheduler('pndm', { ...SD21_BASE, prediction_type: 'v_prediction' }, 50);
    const a = acp[981]!;
    const v = x0.map((x, i) => Math.sqrt(a) * eps[i]! - Math.sqrt(1 - a) * x);
    expectClose(s.step(v, 981, noisyAt(a)), noisyAt(acp[961]!), 'x_961', 2e-5);
  });
  it('DDIM eta 0: with set_alpha_to_one true (DDIM default when the key is absent) the last step returns x0', () => {
    const { set_alpha_to_one: _drop, ...config } = SD21_BASE;
    const out = runOracle('ddim', config, 20, () => eps, noisyAt(acp[951]!));
    out
      .slice(0, -1)
      .forEach((x, k) => expectClose(x, noisyAt(acp[901 - 50 * k]!), `step ${k}`, 2e-5));
    expectClose(out[19]!, x0, 'final', 2e-5);
  });
  it('Euler (epsilon): x = x0 + sigma eps steps to x0 + sigma_next eps, ending on x0', () => {
    const s = createScheduler('euler', SD21_BASE, 25) as Scheduler & { sigmas: Float64Array };
    const start = x0.map((v, i) => v + s.initNoiseSigma * eps[i]!);
    const out = runOracle('euler', SD21_BASE, 25, () => eps, start);
    out.forEach((x, k) =>
      expectClose(
        x,
        x0.map((v, i) => v + s.sigmas[k + 1]! * eps[i]!),
        `step ${k}`,
        2e-5,
      ),
    );
  });
  it('turbo (epsilon) one step returns the predicted x0 exactly', () => {
    const s = createScheduler('turbo', SD21_BASE, 1);
    const start = x0.map((v, i) => v + s.initNoiseSigma * eps[i]!);
    const input = s.scaleModelInput(start, 999);
    expectClose(
      input,
      start.map((v) => v / Math.sqrt(s.initNoiseSigma ** 2 + 1)),
      'scaled input',
      1e-6,
    );
    expectClose(s.step(eps, 999, start), x0, 'x0', 2e-5);
  });
  it('Euler v_prediction: v = (eps - sigma x0) / sqrt(sigma^2 + 1) also ends on x0', () => {
    const config = {
      ...SD21_BASE,
      prediction_type: 'v_prediction',
      timestep_spacing: 'trailing',
    } as const;
    const s = createScheduler('euler', config, 4) as Scheduler & { sigmas: Float64Array };
    let x: Float32Array = x0.map((v, i) => v + s.initNoiseSigma * eps[i]!);
    s.timesteps.forEach((t, k) => {
      const sigma = s.sigmas[k]!;
      s.scaleModelInput(x, t);
      const v = x0.map((a, i) => (eps[i]! - sigma * a) / Math.sqrt(sigma ** 2 + 1));
      x = s.step(v, t, x);
    });
    expectClose(x, x0, 'x0', 2e-5);
  });
});

describe('Euler ancestral splits the next sigma into a deterministic and a fresh-noise part', () => {
  const s = (): Scheduler & { sigmas: Float64Array } =>
    createScheduler('euler-ancestral', SD21_BASE, 20) as Scheduler & { sigmas: Float64Array };
  it('first step: x0 + (sigma1^2 / sigma0) eps + sigma_up z with sigma_up = sigma1 sqrt(sigma0^2 - sigma1^2) / sigma0', () => {
    const sch = s();
    const [s0, s1] = [sch.sigmas[0]!, sch.sigmas[1]!];
    const start = x0.map((v, i) => v + s0 * eps[i]!);
    const z = 0.75;
    const out = sch.step(eps, sch.timesteps[0]!, start, () => z);
    const sigmaUp = (s1 * Math.sqrt(s0 ** 2 - s1 ** 2)) / s0;
    expectClose(
      out,
      x0.map((v, i) => v + (s1 ** 2 / s0) * eps[i]! + sigmaUp * z),
      'x1',
      2e-5,
    );
  });
  it('the last step (sigma_next = 0) ignores the noise values but still draws one per element', () => {
    const sch = s();
    let x: Float32Array = x0.map((v, i) => v + sch.initNoiseSigma * eps[i]!);
    let draws = 0;
    const last = sch.timesteps.length - 1;
    sch.timesteps.forEach((t, k) => {
      x = sch.step(eps, t, x, () => (draws++, k === last ? 1e6 : 0));
    });
    expect(draws).toBe(20 * 12);
    expect(Math.max(...x.map(Math.abs))).toBeLessThan(10);
  });
  it('refuses to step without a noise source', () => {
    const sch = s();
    expect(() => sch.step(eps, 999, x0)).toThrow(/normal source/);
  });
});

describe('misuse fails loudly', () => {
  it('steps outside 1..num_train_timesteps', () => {
    expect(() => createScheduler('pndm', SD21_BASE, 0)).toThrow(/whole number from 1 to/);
    expect(() => createScheduler('ddim', SD21_BASE, 1001)).toThrow(/whole number from 1 to/);
  });
  it('a timestep that is not in the schedule', () => {
    const s = createScheduler('euler', SD21_BASE, 10);
    expect(() => s.scaleModelInput(x0, 500)).toThrow(/not in scheduler.timesteps/);
  });
  it('model output and sample of different sizes', () => {
    const s = createScheduler('ddim', SD21_BASE, 10);
    expect(() => s.step(eps.subarray(1), 901, x0)).toThrow(/11 values but the sample has 12/);
  });
  it('config options we do not implement', () => {
    expect(() => createScheduler('euler', { ...SD21_BASE, use_karras_sigmas: true }, 10)).toThrow(
      /use_karras_sigmas/,
    );
    expect(() => createScheduler('ddim', { ...SD21_BASE, thresholding: true }, 10)).toThrow(
      /thresholding/,
    );
    expect(() => createScheduler('pndm', { ...SD21_BASE, prediction_type: 'sample' }, 10)).toThrow(
      /PNDM supports/,
    );
  });
  it('inputs are never modified', () => {
    for (const name of ['pndm', 'ddim', 'euler', 'euler-ancestral', 'turbo'] as const) {
      const s = createScheduler(name, SD21_BASE, 5);
      const x = Float32Array.from(x0);
      const m = Float32Array.from(eps);
      const t = s.timesteps[0]!;
      s.step(m, t, s.scaleModelInput(x, t), () => 0.5);
      expect(x).toEqual(x0);
      expect(m).toEqual(eps);
    }
  });
});
