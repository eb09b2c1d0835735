import type { SchedulerName } from './scheduler';
import { parseSchedulerConfig } from './scheduler-config';

/** How a study samples its generator: scheduler, steps, guidance and negative prompt. */
export type SamplingRecipe = {
  scheduler: SchedulerName;
  steps: number;
  /** Classifier-free guidance; <= 1 runs the conditional half only (no negative prompt). */
  guidance: number;
  negativePrompt: string;
  /** One line saying which config key chose this recipe, for the study's log. */
  reason: string;
};

/** The paper's sampling (PAPER.md): PNDM, 50 steps, guidance 2, the default negative prompt. */
export const PAPER_RECIPE: Omit<SamplingRecipe, 'reason'> = {
  scheduler: 'pndm',
  steps: 50,
  guidance: 2,
  negativePrompt: 'low quality, low resolution',
};

/** SD-Turbo's: one Euler step from timestep 999, no guidance, so no negative prompt. */
export const TURBO_RECIPE: Omit<SamplingRecipe, 'reason'> = {
  scheduler: 'turbo',
  steps: 1,
  guidance: 0,
  negativePrompt: '',
};

/**
 * The recipe a generator's own `scheduler/scheduler_config.json` calls for, whatever the folder or
 * hub id is called: an EulerDiscreteScheduler with `timestep_spacing: "trailing"` is a
 * distilled one-step model (SD-Turbo's export ships exactly that) and gets the turbo recipe;
 * PNDM, DDIM and anything else get the paper's (Euler ancestral keeps its own scheduler).
 */
export function recipeFromSchedulerConfig(json: unknown, source = 'scheduler_config.json'): SamplingRecipe {
  const config = parseSchedulerConfig(json, source);
  const className =
    typeof json === 'object' && json !== null && typeof (json as Record<string, unknown>)._class_name === 'string'
      ? ((json as Record<string, unknown>)._class_name as string)
      : 'an unnamed scheduler';
  if (className === 'EulerDiscreteScheduler' && config.timestep_spacing === 'trailing') {
    return {
      ...TURBO_RECIPE,
      reason: `${source}: EulerDiscreteScheduler with trailing timestep spacing (a one-step turbo model)`,
    };
  }
  if (className === 'EulerAncestralDiscreteScheduler') {
    return { ...PAPER_RECIPE, scheduler: 'euler-ancestral', reason: `${source}: ${className}` };
  }
  return { ...PAPER_RECIPE, reason: `${source}: ${className} (the paper's PNDM recipe)` };
}
