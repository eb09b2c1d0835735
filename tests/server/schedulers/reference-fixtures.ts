import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { SchedulerName } from '../../../src/server/synthesis/schedulers/scheduler';

/** Fixtures written by tools/reference/schedulers.py (numpy transcription of diffusers). */
const dir = fileURLToPath(new URL('../../fixtures/schedulers/', import.meta.url));

export interface TrajectoryCase {
  id: string;
  scheduler: SchedulerName;
  config: Record<string, unknown>;
  steps: number;
  eta?: number;
  timesteps: number[];
  init_noise_sigma: number;
  sigmas?: number[];
  initial_sample: number[];
  steps_taken: { t: number; model_input?: number[]; noise?: number[]; sample: number[] }[];
}

export interface ScheduleTable {
  config: Record<string, unknown>;
  indices: number[];
  betas: number[];
  alphas_cumprod: number[];
  train_sigmas: number[];
}

export interface TimestepRow {
  scheduler: SchedulerName;
  timestep_spacing: 'leading' | 'trailing' | 'linspace';
  steps: number;
  timesteps: number[];
  init_noise_sigma: number;
  sigmas?: number[];
}

export function loadTrajectories(): TrajectoryCase[] {
  return JSON.parse(readFileSync(`${dir}trajectories.json`, 'utf8')) as TrajectoryCase[];
}

export function loadTables(): {
  schedules: Record<string, ScheduleTable>;
  timestep_grid: TimestepRow[];
} {
  return JSON.parse(readFileSync(`${dir}tables.json`, 'utf8')) as {
    schedules: Record<string, ScheduleTable>;
    timestep_grid: TimestepRow[];
  };
}

/** The reference script's stand-in for the UNet: depends on its input and on t. */
export function fakeModel(input: Float32Array, t: number): Float32Array {
  return input.map((x, i) => 0.1 * x + Math.sin(0.01 * t + 0.37 * i));
}

/** Relative tolerance 1e-5 of the larger magnitude, with a 1e-6 floor for values near 0. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = 1e-5,
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const tol = rtol * Math.max(Math.abs(a), Math.abs(e)) + 1e-6;
    if (!(Math.abs(a - e) <= tol)) {
      expect.fail(`${what}[${i}]: got ${a}, reference ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
    }
  }
}

/** Max relative deviation, for reporting how close we are. */
export function maxRelDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    worst = Math.max(worst, Math.abs(a - e) / Math.max(Math.abs(e), 1e-3));
  }
  return worst;
}
