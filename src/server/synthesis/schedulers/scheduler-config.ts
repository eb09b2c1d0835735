import { z } from 'zod';
import { formatZodIssues } from '../../../shared/zod-issues';

/**
 * A diffusers `scheduler/scheduler_config.json`, as far as our schedulers read it. Unknown keys
 * (`_class_name`, `_diffusers_version`, `sample_max_value`, ...) are dropped. Keys whose default
 * depends on the scheduler class in diffusers (`timestep_spacing`, `set_alpha_to_one`,
 * `clip_sample`) stay optional here; each scheduler applies its own class default, as
 * `from_config` does when a pipeline swaps schedulers.
 */
export const SchedulerConfig = z.object({
  num_train_timesteps: z.number().int().min(2).max(100_000).default(1000),
  beta_start: z.number().positive().lt(1).default(0.0001),
  beta_end: z.number().positive().lt(1).default(0.02),
  beta_schedule: z.enum(['linear', 'scaled_linear', 'squaredcos_cap_v2']).default('linear'),
  trained_betas: z.array(z.number().min(0).lt(1)).nullish(),
  steps_offset: z.number().int().min(0).default(0),
  timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).nullish(),
  prediction_type: z.enum(['epsilon', 'v_prediction', 'sample']).default('epsilon'),
  set_alpha_to_one: z.boolean().nullish(),
  skip_prk_steps: z.boolean().default(false),
  clip_sample: z.boolean().nullish(),
  clip_sample_range: z.number().positive().default(1),
  thresholding: z.boolean().default(false),
  rescale_betas_zero_snr: z.boolean().default(false),
  interpolation_type: z.enum(['linear', 'log_linear']).default('linear'),
  use_karras_sigmas: z.boolean().nullish(),
  use_exponential_sigmas: z.boolean().nullish(),
  use_beta_sigmas: z.boolean().nullish(),
  timestep_type: z.enum(['discrete', 'continuous']).default('discrete'),
  final_sigmas_type: z.enum(['zero', 'sigma_min']).default('zero'),
});
export type SchedulerConfig = z.infer<typeof SchedulerConfig>;
/** What a caller may hand in: a parsed config, a raw `scheduler_config.json` object, or a subset. */
export type SchedulerConfigInput = z.input<typeof SchedulerConfig>;

export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export type PredictionType = SchedulerConfig['prediction_type'];

/** Parses a `scheduler_config.json` object; the error names the folder so the operator can fix it. */
export function parseSchedulerConfig(
  json: unknown,
  source = 'scheduler_config.json',
): SchedulerConfig {
  const parsed = SchedulerConfig.safeParse(json);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error.issues);
    throw new Error(
      `Scheduler config ${source} is not usable: ${issues}. ` +
        'Fix the file or re-export the generator folder with diffusers.',
    );
  }
  return parsed.data;
}

/** Settings a diffusers scheduler would honour but we do not implement: fail loudly, never silently differ. */
export function assertSupported(config: SchedulerConfig, scheduler: string): void {
  const unsupported: string[] = [];
  if (config.thresholding) unsupported.push('thresholding=true');
  if (config.rescale_betas_zero_snr) unsupported.push('rescale_betas_zero_snr=true');
  if (config.use_karras_sigmas) unsupported.push('use_karras_sigmas=true');
  if (config.use_exponential_sigmas) unsupported.push('use_exponential_sigmas=true');
  if (config.use_beta_sigmas) unsupported.push('use_beta_sigmas=true');
  if (config.interpolation_type !== 'linear')
    unsupported.push(`interpolation_type=${config.interpolation_type}`);
  if (config.timestep_type !== 'discrete')
    unsupported.push(`timestep_type=${config.timestep_type}`);
  if (config.trained_betas && config.trained_betas.length !== config.num_train_timesteps) {
    unsupported.push(
      `trained_betas of length ${config.trained_betas.length} with num_train_timesteps=${config.num_train_timesteps}`,
    );
  }
  if (unsupported.length > 0) {
    throw new Error(
      `Scheduler '${scheduler}' does not support ${unsupported.join(', ')}. ` +
        'Remove these keys from scheduler_config.json or pick another scheduler.',
    );
  }
}
