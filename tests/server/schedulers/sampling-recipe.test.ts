import { describe, expect, it } from 'vitest';
import { recipeFromSchedulerConfig } from '../../../src/server/synthesis/schedulers/sampling-recipe';
import { createScheduler } from '../../../src/server/synthesis/schedulers/create-scheduler';

const base = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000, steps_offset: 1 } as const;

describe('sampling recipe from scheduler_config.json (never from the model id)', () => {
  it('Euler with trailing spacing is a turbo model: 1 step, no guidance, no negative prompt', () => {
    const r = recipeFromSchedulerConfig({ _class_name: 'EulerDiscreteScheduler', ...base, timestep_spacing: 'trailing' });
    expect(r).toMatchObject({ scheduler: 'turbo', steps: 1, guidance: 0, negativePrompt: '' });
    expect(r.guidance).toBeLessThanOrEqual(1);
    expect(r.reason).toMatch(/trailing/);
    // And the turbo scheduler built from that config starts at timestep 999 and takes one step.
    expect(createScheduler(r.scheduler, { ...base, timestep_spacing: 'trailing' }, r.steps).timesteps).toEqual([999]);
  });

  it("PNDM and DDIM configs get the paper's recipe (PNDM, 50 steps, guidance 2, its negative prompt)", () => {
    for (const cls of ['PNDMScheduler', 'DDIMScheduler']) {
      expect(recipeFromSchedulerConfig({ _class_name: cls, ...base, skip_prk_steps: true })).toMatchObject({
        scheduler: 'pndm',
        steps: 50,
        guidance: 2,
        negativePrompt: 'low quality, low resolution',
      });
    }
  });

  it('Euler without trailing spacing is not turbo; Euler ancestral keeps its scheduler', () => {
    expect(recipeFromSchedulerConfig({ _class_name: 'EulerDiscreteScheduler', ...base, timestep_spacing: 'leading' }).scheduler).toBe('pndm');
    expect(recipeFromSchedulerConfig({ _class_name: 'EulerDiscreteScheduler', ...base }).scheduler).toBe('pndm');
    expect(recipeFromSchedulerConfig({ _class_name: 'EulerAncestralDiscreteScheduler', ...base })).toMatchObject({ scheduler: 'euler-ancestral', steps: 50, guidance: 2 });
  });

  it('a config it cannot read is an error naming the file and the key', () => {
    expect(() => recipeFromSchedulerConfig({ _class_name: 'PNDMScheduler', beta_schedule: 'cosine' }, '/m/scheduler_config.json')).toThrow(
      /\/m\/scheduler_config\.json is not usable: beta_schedule/,
    );
  });

  it('euler is a study scheduler name', async () => {
    const { SchedulerName } = await import('../../../src/shared/study');
    expect(SchedulerName.parse('euler')).toBe('euler');
  });
});
