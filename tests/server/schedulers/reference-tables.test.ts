import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../src/server/synthesis/schedulers/create-scheduler';
import {
  createNoiseSchedule,
  trainingSigmas,
} from '../../../src/server/synthesis/schedulers/noise-schedule';
import { parseSchedulerConfig } from '../../../src/server/synthesis/schedulers/scheduler-config';
import { expectClose, loadTables } from './reference-fixtures';

const { schedules, timestep_grid } = loadTables();

describe('training noise schedules match the reference', () => {
  for (const [label, table] of Object.entries(schedules)) {
    it(label, () => {
      const schedule = createNoiseSchedule(parseSchedulerConfig(table.config));
      const sigmas = trainingSigmas(schedule);
      const pick = (a: Float64Array): number[] => table.indices.map((i) => a[i]!);
      // float32 tables written with 9 digits: agreement to ~1 float32 ulp
      expectClose(pick(schedule.betas), table.betas, 'betas', 2e-7);
      expectClose(pick(schedule.alphasCumprod), table.alphas_cumprod, 'alphas_cumprod', 2e-7);
      expectClose(pick(sigmas), table.train_sigmas, 'train sigmas', 2e-7);
    });
  }
});

describe('timesteps and sigmas for every spacing match the reference', () => {
  for (const row of timestep_grid) {
    it(`${row.scheduler} ${row.timestep_spacing} ${row.steps} steps`, () => {
      const config = {
        ...schedules.scaled_linear_sd!.config,
        timestep_spacing: row.timestep_spacing,
      };
      const s = createScheduler(row.scheduler, config, row.steps);
      expect(s.timesteps).toEqual(row.timesteps);
      expectClose([s.initNoiseSigma], [row.init_noise_sigma], 'init_noise_sigma', 1e-7);
      if (row.sigmas)
        expectClose((s as unknown as { sigmas: Float64Array }).sigmas, row.sigmas, 'sigmas', 1e-7);
    });
  }
});
