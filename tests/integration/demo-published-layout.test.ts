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
  work = await mkdtemp(join(tmpdir(), 'fgl-demo-published-'));
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});
afterAll(() => vi.restoreAllMocks());

/** `fgl demo --models DIR --json`, small: 2 sites, 2 classes, 10 images per class. */
async function demo(root: string): Promise<DemoResult> {
  const code = await main(['demo', '--models', root, '--sites', '2', '--classes', '2', '--per-class', '10', '--device', 'cpu', '--work-dir', work, '--json']);
  expect(code).toBe(0);
  return JSON.parse(out) as DemoResult;
}

describe('fgl demo --models DIR --json on the published layouts', () => {
  it('Olive sd-turbo: end to end with the turbo recipe chosen from the scheduler config, no config.json in any submodel', async () => {
    const models = await getTinyModels({ layouts: ['olive-sd-turbo', 'xenova-clip', 'xenova-vit-gpt2'] });
    const result = await demo(models.root);
    expect(result.generator).toMatchObject({ scheduler: 'turbo', steps: 1, guidance: 0, negativePrompt: '', width: 512, height: 512 });
    expect(result.generator.recipeReason).toMatch(/EulerDiscreteScheduler with trailing timestep spacing/);
    expect(result.round.modelVersion).toBe(1);
    expect(result.round.syntheticImages).toBeGreaterThan(0);
    for (const s of result.sites) {
      expect(s.modelVerified).toBe(true);
      expect(s.evaluatedImages).toBe(s.images);
    }
  }, 300_000);

  it('optimum SD 2.1 (UNet in model.onnx_data): end to end with the paper scheduler from its PNDM config', async () => {
    const models = await getTinyModels({ layouts: ['optimum-sd21', 'xenova-clip', 'xenova-vit-gpt2'] });
    const result = await demo(models.root);
    expect(result.generator).toMatchObject({ scheduler: 'pndm', guidance: 2, negativePrompt: 'low quality, low resolution', width: 64 });
    expect(result.round.modelVersion).toBe(1);
    for (const s of result.sites) expect(s.modelVerified).toBe(true);
  }, 300_000);
});
