import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { resolveDemoModels } from '../../src/cli/demo/demo-models';
import { FASHION_CLASSES } from '../../src/cli/mini-models/fashion-classes';
import { buildStudyManifest } from '../../src/cli/study/build-study';
import { describeModelsFolder, MINI_MODELS_DIR, resolveModelsOption } from '../../src/cli/study/models-folder';
import { loadClip } from '../../src/core/inference/clip-model';
import { loadTextEncoder } from '../../src/core/inference/text-encoder';

const tmp = await mkdtemp(join(tmpdir(), 'fgl-mini-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

type Manifest = { files: { path: string; bytes: number; sha256: string }[]; totalBytes: number; classes: string[] };

describe('the committed mini bundle', () => {
  it('matches its manifest byte for byte, within the 25 MB budget', async () => {
    const m = JSON.parse(await readFile(join(MINI_MODELS_DIR, 'mini-models.json'), 'utf8')) as Manifest;
    expect(m.totalBytes).toBeLessThan(25e6);
    expect(m.classes).toEqual(FASHION_CLASSES);
    for (const f of m.files) {
      const bytes = await readFile(join(MINI_MODELS_DIR, f.path));
      expect(bytes.length, f.path).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex'), f.path).toBe(f.sha256);
    }
  });

  it('is described as the mini models (not tiny, not real) with a 64 px generator', async () => {
    const m = await describeModelsFolder(MINI_MODELS_DIR);
    expect([m.mini, m.tiny, m.clip.id, m.generator.id, m.imageSize, m.encoder.dim]).toEqual([true, false, 'fgl-mini/clip', 'fgl-mini/generator', 64, 64]);
    expect(await resolveModelsOption('mini', tmp)).toBe(MINI_MODELS_DIR);
  });

  it('a study on it samples without a negative prompt: the unconditional input its head was trained with', async () => {
    // With the studies' usual "low quality, low resolution" FGL lost 0–5 points (probe) and 2–21
    // points (CNN) in `fgl experiment paper --quick` (docs/experiments.md, "Negative prompt").
    const models = await describeModelsFolder(MINI_MODELS_DIR);
    const study = buildStudyManifest({ name: 'x', classes: [...FASHION_CLASSES], models });
    expect(study.generator).toMatchObject({ scheduler: 'pndm', guidance: 2, negativePrompt: '' });
  });

  it('its CLIP ranks the right class prompt first for a class prompt’s own text, through production loaders', async () => {
    const clip = await loadClip(join(MINI_MODELS_DIR, 'clip'), { device: 'cpu' });
    const encoder = await loadTextEncoder(join(MINI_MODELS_DIR, 'generator'), { device: 'cpu' });
    try {
      const t = await clip.embedTexts(FASHION_CLASSES.map((c) => `${c}, real world images, high resolution`));
      const v = await clip.embedTexts(FASHION_CLASSES.map((c) => `a photo of a ${c}`));
      let right = 0;
      v.forEach((x, i) => {
        const scores = t.map((y) => y.reduce((a, b, k) => a + b * x[k]!, 0));
        if (scores.indexOf(Math.max(...scores)) === i) right++;
      });
      expect(right).toBeGreaterThanOrEqual(9);
      expect(encoder.dim).toBe(64);
      expect((await encoder.encode(['bag'])).length).toBe(77 * 64);
    } finally {
      await clip.dispose();
      await encoder.dispose();
    }
  });
});

describe('demo models', () => {
  it('falls back to the mini bundle, with a banner that says what it is, when no real models are cached', async () => {
    vi.stubEnv('FGL_ALLOW_NETWORK', '');
    try {
      const r = await resolveDemoModels('default', join(tmp, 'cache'), () => {});
      expect(r.dir).toBe(MINI_MODELS_DIR);
      expect(r.banner).toMatch(/MINI foundation bundle/);
      expect(r.banner).toMatch(/Fashion-MNIST/);
      expect(r.banner).toMatch(/--models tiny/);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
