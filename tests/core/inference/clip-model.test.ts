import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClipModel, loadClip } from '../../../src/core/inference/clip-model';
import { type TinyModels, getTinyModels } from '../../helpers/tiny-models';
import { solidImage } from './test-images';

let tiny: TinyModels;
let clip: ClipModel;

const norm = (v: Float32Array) => Math.hypot(...v);
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

beforeAll(async () => {
  tiny = await getTinyModels();
  clip = await loadClip(tiny.dirs.clip, { device: 'auto', batchSize: 2 });
});
afterAll(async () => {
  await clip.dispose();
});

describe('loadClip (tiny CLIP through transformers.js)', () => {
  it('reports its dimension and the device used (CPU fallback here, with the reason)', () => {
    expect(clip.dim).toBe(tiny.options.projectionDim);
    expect(['cpu', 'cuda', 'dml', 'coreml', 'webgpu']).toContain(clip.device);
    if (clip.device === 'cpu' && process.platform === 'linux')
      expect(clip.fallbackMessage).toMatch(/Running on cpu/);
  });

  it('image embeddings are L2-normalised, differ between images, and batching does not change them', async () => {
    const images = [
      solidImage([220, 30, 30]),
      solidImage([30, 30, 220]),
      solidImage([30, 200, 30], 100, 70),
    ];
    const embeds = await clip.embedImages(images); // batchSize 2: two batches
    expect(embeds).toHaveLength(3);
    for (const e of embeds) {
      expect(e.length).toBe(clip.dim);
      expect(norm(e)).toBeCloseTo(1, 5);
    }
    expect(dot(embeds[0]!, embeds[1]!)).toBeLessThan(0.9999);
    const single = await clip.embedImages([images[2]!]);
    for (let i = 0; i < clip.dim; i++) expect(single[0]![i]).toBeCloseTo(embeds[2]![i]!, 5);
  });

  it('is deterministic across loads', async () => {
    const image = solidImage([120, 80, 40]);
    const other = await loadClip(tiny.dirs.clip, { device: 'cpu' });
    const [a] = await clip.embedImages([image]);
    const [b] = await other.embedImages([image]);
    const [ta] = await clip.embedTexts(['a photo of a red square']);
    const [tb] = await other.embedTexts(['a photo of a red square']);
    expect(b).toEqual(a);
    expect(tb).toEqual(ta);
    await other.dispose();
  });

  it('text embeddings are L2-normalised and differ between texts', async () => {
    const embeds = await clip.embedTexts([
      'a red image',
      'a blue image',
      'a very long prompt '.repeat(40),
    ]);
    expect(embeds).toHaveLength(3);
    for (const e of embeds) {
      expect(e.length).toBe(clip.dim);
      expect(norm(e)).toBeCloseTo(1, 5);
    }
    expect(dot(embeds[0]!, embeds[1]!)).toBeLessThan(0.9999);
  });

  it('rejects a pixel buffer that does not match its size', async () => {
    const bad = { ...solidImage([1, 2, 3]), width: 65 };
    await expect(clip.embedImages([bad])).rejects.toThrow(/expected 65×48×3 RGB/);
  });
});
