/** The schedulers the synthesis pipeline can run; `turbo` is Euler discrete with trailing spacing (SD-Turbo). */
export const SCHEDULER_NAMES = ['pndm', 'ddim', 'euler', 'euler-ancestral', 'turbo'] as const;
export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** A source of independent N(0, 1) draws, e.g. `createSeededRandom(seed).normal`. */
export type NormalSource = () => number;

/**
 * One denoising run, driven like a diffusers pipeline:
 *
 * ```ts
 * let latents = scaleInPlace(noise, scheduler.initNoiseSigma);
 * for (const t of scheduler.timesteps) {
 *   const eps = unet(scheduler.scaleModelInput(latents, t), t);
 *   latents = scheduler.step(eps, t, latents, random.normal);
 * }
 * ```
 *
 * A scheduler is stateful (PNDM keeps its multistep history, Euler its step index): use a fresh
 * one per run, call `step` once per entry of `timesteps`, in order. Arrays are flat (any layout,
 * e.g. NCHW latents of a whole batch); outputs are new arrays, inputs are never modified.
 */
export interface Scheduler {
  readonly name: SchedulerName;
  /** The UNet is called once per entry (PNDM's PLMS repeats its second timestep; Euler's may be fractional). */
  readonly timesteps: readonly number[];
  /** Standard deviation to scale the initial N(0, 1) latents by (1 for PNDM/DDIM, sigma_max-ish for Euler). */
  readonly initNoiseSigma: number;
  /** The UNet's input at timestep t (identity for PNDM/DDIM, x / sqrt(sigma^2 + 1) for Euler). */
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /**
   * The sample at the next (lower-noise) timestep. `noise` is drawn once per element, in order,
   * by schedulers that add noise (Euler ancestral; DDIM with eta > 0); the others ignore it.
   */
  step(
    modelOutput: Float32Array,
    t: number,
    sample: Float32Array,
    noise?: NormalSource,
  ): Float32Array;
}

export function assertSameLength(
  modelOutput: Float32Array,
  sample: Float32Array,
  scheduler: string,
): void {
  if (modelOutput.length !== sample.length) {
    throw new Error(
      `${scheduler} step: model output has ${modelOutput.length} values but the sample has ${sample.length}; ` +
        'pass the UNet output for exactly this sample (after classifier-free guidance).',
    );
  }
}

export function requireNoise(noise: NormalSource | undefined, scheduler: string): NormalSource {
  if (!noise) {
    throw new Error(
      `${scheduler} adds fresh noise at every step: pass a normal source, e.g. createSeededRandom(seed).normal.`,
    );
  }
  return noise;
}
