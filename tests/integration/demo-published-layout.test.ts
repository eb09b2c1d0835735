import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import type { DemoResult } from '../../src/cli/demo/run-demo';
import { getTinyModels } from '../helpers/tiny-models';

let out = '';
let work: string;
beforeEach(async () => {
  out = '';
  work = await mkdtemp(join(tmpdir(), 'fgl-demo-olive-'));
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});
afterAll(() => vi.restoreAllMocks());

describe('fgl demo --models DIR --json on the published onnxruntime/sd-turbo (Olive) layout', () => {
  it('runs end to end with the turbo recipe chosen from the scheduler config, with no config.json in any submodel', async () => {
    const models = await getTinyModels({ layouts: ['olive-sd-turbo', 'xenova-clip', 'xenova-vit-gpt2'] });
    const code = await main(['demo', '--models', models.root, '--sites', '2', '--classes', '2', '--per-class', '10', '--device', 'cpu', '--work-dir', work, '--json']);
    expect(code).toBe(0);
    const result = JSON.parse(out) as DemoResult;
    expect(result.generator).toMatchObject({ scheduler: 'turbo', steps: 1, guidance: 0, negativePrompt: '', width: 512, height: 512 });
    expect(result.generator.recipeReason).toMatch(/EulerDiscreteScheduler with trailing timestep spacing/);
    expect(result.round.modelVersion).toBe(1);
    expect(result.round.syntheticImages).toBeGreaterThan(0);
    for (const s of result.sites) {
      expect(s.modelVerified).toBe(true);
      expect(s.evaluatedImages).toBe(s.images);
    }
  }, 300_000);
});
