import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaptioner } from '../../../src/core/inference/captioner';
import { loadClip } from '../../../src/core/inference/clip-model';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { encoderDigest, modelDigest } from '../../../src/core/models/model-digest';
import { ModelStore, type ResolvedModel } from '../../../src/core/models/model-store';
import { configureTransformers } from '../../../src/core/models/transformers-env';
import { type HubServer, startHubServer } from '../../helpers/hub-server';
import { type TinyModels, getTinyModels } from '../../helpers/tiny-models';
import { solidImage } from './test-images';

// The whole path a site takes: hub (here a loopback server) → cache → transformers.js / ORT.
let tiny: TinyModels;
let hub: HubServer;
let cacheDir: string;
const resolved: Partial<Record<'clip' | 'captioner' | 'generator', ResolvedModel>> = {};

beforeAll(async () => {
  tiny = await getTinyModels();
  hub = await startHubServer();
  for (const role of ['clip', 'captioner', 'generator'] as const)
    hub.addRepo(`fgl-tiny/${role}`, tiny.dirs[role]);
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'fgl-models-'));
  configureTransformers({ cacheDir, allowNetwork: false, remoteHost: hub.url });
});
afterAll(async () => {
  await hub.close();
  await rm(cacheDir, { recursive: true, force: true });
});

describe('tiny models from a hub into the cache', () => {
  it.each(['clip', 'captioner', 'generator'] as const)(
    'downloads the %s model, digest equal to the source',
    async (role) => {
      const store = new ModelStore({
        cacheDir,
        allowNetwork: true,
        remoteHost: hub.url,
        retryDelayMs: 0,
      });
      if (role === 'clip') hub.dropOnce('onnx/vision_model.onnx', 5000);
      const r = await store.resolve(
        { id: `fgl-tiny/${role}`, sha256: await modelDigest(tiny.dirs[role], role) },
        role,
      );
      expect(r.source).toBe('download');
      expect(r.dir).toBe(path.join(cacheDir, 'fgl-tiny', role, 'main'));
      resolved[role] = r;
      // Offline afterwards: served from the cache.
      const again = await new ModelStore({ cacheDir, allowNetwork: false }).resolve(
        { id: `fgl-tiny/${role}` },
        role,
      );
      expect(again).toEqual({ ...r, source: 'cache' });
    },
  );

  it('fetched the dropped CLIP vision model again, from where the client had got to', () => {
    const vision = hub.requests.filter((q) => q.file === 'onnx/vision_model.onnx');
    expect(vision).toHaveLength(2);
    expect(vision[0]!.range).toBeNull();
    // Range from the bytes kept (≤ 5000), or from the start if none had been read yet.
    const range = vision[1]!.range;
    if (range === null) expect(vision[1]!.status).toBe(200);
    else {
      expect(range).toMatch(/^bytes=\d+-$/);
      expect(Number(/\d+/.exec(range)![0])).toBeLessThanOrEqual(5000);
      expect(vision[1]!.status).toBe(206);
    }
  });

  it('the cached CLIP loads through transformers.js and embeds', async () => {
    const clip = await loadClip(resolved.clip!.dir, { device: 'cpu' });
    const [red, blue] = await clip.embedImages([
      solidImage([200, 20, 20]),
      solidImage([20, 20, 200]),
    ]);
    expect(red!.length).toBe(tiny.options.projectionDim);
    expect(red).not.toEqual(blue);
    await clip.dispose();
  });

  it('the cached captioner loads through transformers.js and captions', async () => {
    const captioner = await loadCaptioner(resolved.captioner!.dir, { device: 'cpu' });
    const captions = await captioner.caption([
      solidImage([200, 20, 20]),
      solidImage([20, 20, 200]),
    ]);
    expect(captions).toHaveLength(2);
    for (const c of captions) expect(c.trim().length).toBeGreaterThan(0);
    await captioner.dispose();
  });

  it('transformers.js is configured offline and reads only the folder it is given', async () => {
    expect(env.allowRemoteModels).toBe(false);
    expect(env.remoteHost).toBe(`${hub.url}/`);
    expect(env.remotePathTemplate).toBe('{model}/resolve/{revision}/');
    const broken = path.join(cacheDir, 'broken-clip');
    await cp(resolved.clip!.dir, broken, { recursive: true });
    await rm(path.join(broken, 'onnx', 'text_model.onnx'));
    const before = hub.requests.length;
    await expect(loadClip(broken, { device: 'cpu' })).rejects.toThrow(/text_model\.onnx/);
    expect(hub.requests.length).toBe(before);
  });

  it("the cached generator's text encoder loads and its digest is the source's encoder digest", async () => {
    const encoder = await loadTextEncoder(resolved.generator!.dir, { device: 'cpu' });
    expect(encoder.digest).toBe(await encoderDigest(tiny.dirs.generator));
    expect(encoder.dim).toBe(tiny.options.textHiddenDim);
    await encoder.dispose();
  });
});
