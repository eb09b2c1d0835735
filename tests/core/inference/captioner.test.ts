import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Captioner, loadCaptioner } from '../../../src/core/inference/captioner';
import { getTinyModels } from '../../helpers/tiny-models';
import { solidImage } from './test-images';

let captioner: Captioner;
let short: Captioner;

beforeAll(async () => {
  const tiny = await getTinyModels();
  captioner = await loadCaptioner(tiny.dirs.captioner, { device: 'auto' });
  short = await loadCaptioner(tiny.dirs.captioner, { device: 'cpu', maxNewTokens: 2 });
});
afterAll(async () => {
  await captioner.dispose();
  await short.dispose();
});

describe('loadCaptioner (tiny vit-gpt2 layout through transformers.js)', () => {
  it('gives one non-empty caption per image, deterministically', async () => {
    const images = [
      solidImage([220, 30, 30]),
      solidImage([30, 30, 220]),
      solidImage([30, 200, 30]),
    ];
    const a = await captioner.caption(images);
    expect(a).toHaveLength(3);
    for (const c of a) expect(c.trim()).not.toBe('');
    expect(await captioner.caption(images)).toEqual(a);
    expect(await captioner.caption([])).toEqual([]);
  });

  it('maxNewTokens bounds the caption length', async () => {
    const image = solidImage([220, 30, 30]);
    const [full] = await captioner.caption([image]);
    const [cut] = await short.caption([image]);
    expect(full!.startsWith(cut!)).toBe(true);
    expect(cut!.length).toBeLessThan(full!.length);
  });
});
