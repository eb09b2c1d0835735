import { DdimScheduler } from './ddim-scheduler';
import { EulerAncestralScheduler } from './euler-ancestral-scheduler';
import { EulerScheduler } from './euler-scheduler';
import { PndmScheduler } from './pndm-scheduler';
import type { Scheduler, SchedulerName } from './scheduler';
import { parseSchedulerConfig, type SchedulerConfigInput } from './scheduler-config';

export interface CreateSchedulerOptions {
  /** DDIM only: 0 (default) is deterministic. */
  eta?: number;
}

/**
 * A fresh scheduler for one run of `steps` inference steps, from a generator folder's
 * `scheduler/scheduler_config.json` (raw or parsed). As with diffusers' `from_config`, keys the
 * config lacks take the chosen scheduler's class defaults; `turbo` always uses trailing spacing.
 */
export function createScheduler(
  name: SchedulerName,
  config: SchedulerConfigInput,
  steps: number,
  options: CreateSchedulerOptions = {},
): Scheduler {
  const parsed = parseSchedulerConfig(config);
  switch (name) {
    case 'pndm':
      return new PndmScheduler(parsed, steps);
    case 'ddim':
      return new DdimScheduler(parsed, steps, { eta: options.eta ?? 0 });
    case 'euler':
      return new EulerScheduler(parsed, steps);
    case 'euler-ancestral':
      return new EulerAncestralScheduler(parsed, steps);
    case 'turbo':
      // SD-Turbo: one step from timestep 999 needs trailing spacing (linspace would start at 0 for 1 step).
      return new EulerScheduler(parsed, steps, 'turbo');
  }
}
