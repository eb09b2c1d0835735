import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../src/server/synthesis/schedulers/create-scheduler';
import type { Scheduler } from '../../../src/server/synthesis/schedulers/scheduler';
import { expectClose, fakeModel, loadTrajectories, maxRelDiff } from './reference-fixtures';

function sigmasOf(s: Scheduler): Float64Array | undefined {
  return 'sigmas' in s ? (s.sigmas as Float64Array) : undefined;
}

describe('schedulers match the numpy transcription of diffusers step by step', () => {
  for (const c of loadTrajectories()) {
    it(`${c.id}: ${c.scheduler}, ${c.steps} steps`, () => {
      const s = createScheduler(c.scheduler, c.config, c.steps, { eta: c.eta ?? 0 });
      expect(s.timesteps).toEqual(c.timesteps);
      expectClose([s.initNoiseSigma], [c.init_noise_sigma], 'init_noise_sigma', 1e-7);
      if (c.sigmas) expectClose(sigmasOf(s)!, c.sigmas, 'sigmas', 1e-7);

      let x: Float32Array = Float32Array.from(c.initial_sample);
      let worst = 0;
      s.timesteps.forEach((t, k) => {
        const ref = c.steps_taken[k]!;
        expect(t).toBe(ref.t);
        const input = s.scaleModelInput(x, t);
        if (ref.model_input) expectClose(input, ref.model_input, `step ${k} (t=${t}) model input`);
        const modelOutput = fakeModel(input, t);
        let drawn = 0;
        const noise = ref.noise ? (): number => ref.noise![drawn++]! : undefined;
        x = s.step(modelOutput, t, x, noise);
        if (ref.noise) expect(drawn, 'one noise draw per element').toBe(ref.noise.length);
        expectClose(x, ref.sample, `step ${k} (t=${t}) sample`);
        worst = Math.max(worst, maxRelDiff(x, ref.sample));
      });
      expect(worst).toBeLessThan(1e-5);
    });
  }
});
