import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../src/server/synthesis/schedulers/create-scheduler';
import { parseSchedulerConfig } from '../../../src/server/synthesis/schedulers/scheduler-config';

/** stabilityai/sd-turbo scheduler/scheduler_config.json, verbatim. */
const SD_TURBO_JSON = `{
  "_class_name": "EulerDiscreteScheduler",
  "_diffusers_version": "0.24.0.dev0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "clip_sample": false,
  "interpolation_type": "linear",
  "num_train_timesteps": 1000,
  "prediction_type": "epsilon",
  "sample_max_value": 1.0,
  "set_alpha_to_one": false,
  "sigma_max": null,
  "sigma_min": null,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "timestep_spacing": "trailing",
  "timestep_type": "discrete",
  "trained_betas": null,
  "use_karras_sigmas": false
}`;

describe('scheduler_config.json parsing', () => {
  it('reads the SD-Turbo config and drops keys we do not use', () => {
    const config = parseSchedulerConfig(JSON.parse(SD_TURBO_JSON));
    expect(config).toMatchObject({
      beta_schedule: 'scaled_linear',
      beta_start: 0.00085,
      beta_end: 0.012,
      num_train_timesteps: 1000,
      prediction_type: 'epsilon',
      timestep_spacing: 'trailing',
      steps_offset: 1,
    });
    expect(config).not.toHaveProperty('_class_name');
    expect(config).not.toHaveProperty('sample_max_value');
    const euler = createScheduler('euler', JSON.parse(SD_TURBO_JSON) as Record<string, unknown>, 1);
    expect(euler.timesteps).toEqual([999]);
    // an already-parsed config is accepted as well
    expect(createScheduler('ddim', config, 4).timesteps).toEqual([999, 749, 499, 249]);
  });
  it('leaves class-dependent keys unset so each scheduler applies its own default', () => {
    const config = parseSchedulerConfig({ beta_schedule: 'scaled_linear' });
    expect(config.timestep_spacing).toBeUndefined();
    expect(config.set_alpha_to_one).toBeUndefined();
    expect(config.num_train_timesteps).toBe(1000);
    expect(config.beta_start).toBe(0.0001);
  });
  it('explains what is wrong and where', () => {
    expect(() =>
      parseSchedulerConfig(
        { beta_schedule: 'sigmoid' },
        'models/sd/scheduler/scheduler_config.json',
      ),
    ).toThrow(/models\/sd\/scheduler\/scheduler_config.json is not usable: beta_schedule/);
  });
});
