import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { modelDigest } from '../../../src/core/models/model-digest';
import { MODEL_LAYOUTS } from '../../../src/core/models/model-layouts';
import {
  type DownloadProgress,
  ModelStore,
  modelsFolder,
  networkAllowedByEnv,
} from '../../../src/core/models/model-store';
import { type HubServer, startHubServer } from '../../helpers/hub-server';

let root: string;
let hub: HubServer;
let source: string;
let sourceDigest: string;
let cacheDir: string;
let logs: string[];

const ID = 'fgl-test/fake-generator';
const UNET_BYTES = 700_000;

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

function store(
  allowNetwork: boolean,
  extra: Partial<ConstructorParameters<typeof ModelStore>[0]> = {},
): ModelStore {
  return new ModelStore({
    cacheDir,
    allowNetwork,
    remoteHost: hub.url,
    retryDelayMs: 0,
    log: (l) => logs.push(l),
    ...extra,
  });
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fgl-store-'));
  hub = await startHubServer();
  // A generator-shaped folder: every required file, one optional external-data file, random bytes.
  source = path.join(root, 'source');
  for (const rel of [...MODEL_LAYOUTS.generator.required, 'unet/model.onnx_data']) {
    const full = path.join(source, ...rel.split('/'));
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, rel === 'unet/model.onnx' ? randomBytes(UNET_BYTES) : randomBytes(1000));
  }
  sourceDigest = await modelDigest(source, 'generator');
  hub.addRepo(ID, source);
  hub.addRepo(ID, source, 'v2');
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(async () => {
  cacheDir = await mkdtemp(path.join(root, 'cache-'));
  hub.requests.length = 0;
  logs = [];
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

describe('ModelStore: local folders', () => {
  it('uses a complete folder as is', async () => {
    const r = await store(false).resolve({ dir: source }, 'generator');
    expect(r).toEqual({ dir: source, digest: sourceDigest, source: 'folder' });
  });

  it('refuses an incomplete folder and lists what is missing', async () => {
    await expect(store(false).resolve({ dir: source }, 'clip')).rejects.toThrow(
      /missing config\.json, preprocessor_config\.json, tokenizer\.json, tokenizer_config\.json, onnx\/text_model\.onnx, onnx\/vision_model\.onnx/,
    );
  });

  it('checks a folder against an expected sha256', async () => {
    await expect(
      store(false).resolve({ dir: source, sha256: 'a'.repeat(64) }, 'generator'),
    ).rejects.toThrow(new RegExp(`has sha256 ${sourceDigest}, but a{64} is expected`));
  });

  it('modelsFolder maps --models DIR to one subfolder per role', () => {
    expect(modelsFolder('/m')).toEqual({
      clip: path.join('/m', 'clip'),
      captioner: path.join('/m', 'captioner'),
      generator: path.join('/m', 'generator'),
    });
  });

  it('FGL_ALLOW_NETWORK=1 opts in, anything else does not', () => {
    expect(networkAllowedByEnv({ FGL_ALLOW_NETWORK: '1' })).toBe(true);
    expect(networkAllowedByEnv({ FGL_ALLOW_NETWORK: 'true' })).toBe(true);
    expect(networkAllowedByEnv({ FGL_ALLOW_NETWORK: '0' })).toBe(false);
    expect(networkAllowedByEnv({})).toBe(false);
  });
});

describe('ModelStore: hub ids', () => {
  it('offline and not cached: says exactly how to get the model, and fetches nothing', async () => {
    const err = await store(false)
      .resolve({ id: ID }, 'generator')
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(Error);
    const msg = err!.message;
    expect(msg).toContain(`${ID}@main`);
    expect(msg).toContain(path.join(cacheDir, 'fgl-test', 'fake-generator', 'main'));
    expect(msg).toContain('FGL_ALLOW_NETWORK=1');
    expect(msg).not.toContain('--allow-network'); // no command has that flag: the variable is the one switch
    expect(msg).toContain('--models DIR');
    expect(hub.requests).toHaveLength(0);
  });

  it('refuses ids and revisions that would leave the cache', async () => {
    await expect(store(true).resolve({ id: '../evil' }, 'clip')).rejects.toThrow(
      /Invalid model id/,
    );
    await expect(store(true).resolve({ id: 'a/b', revision: '..' }, 'clip')).rejects.toThrow(
      /Invalid model revision/,
    );
    expect(hub.requests).toHaveLength(0);
  });

  it('downloads every layout file (404 optional files skipped), then serves from the cache offline', async () => {
    const progress: DownloadProgress[] = [];
    const r = await store(true).resolve({ id: ID }, 'generator', {
      onProgress: (p) => progress.push(p),
    });
    const dir = path.join(cacheDir, 'fgl-test', 'fake-generator', 'main');
    expect(r).toEqual({ dir, digest: sourceDigest, source: 'download' });
    const [got, want] = await Promise.all([
      readFile(path.join(dir, 'unet', 'model.onnx')),
      readFile(path.join(source, 'unet', 'model.onnx')),
    ]);
    expect(got.equals(want)).toBe(true); // Buffer.equals: toEqual on 700 kB takes seconds
    expect(await exists(path.join(dir, 'unet', 'model.onnx_data'))).toBe(true);
    expect(await exists(path.join(dir, 'unet', 'weights.pb'))).toBe(false);
    expect(hub.requests.find((q) => q.file === 'unet/weights.pb')?.status).toBe(404);
    expect(hub.requests.every((q) => q.url.startsWith(`/${ID}/resolve/main/`))).toBe(true);
    const lastUnet = progress.filter((p) => p.file === 'unet/model.onnx').at(-1);
    expect(lastUnet).toEqual({ file: 'unet/model.onnx', bytes: UNET_BYTES, total: UNET_BYTES });
    const leftovers = (await readdir(dir, { recursive: true })).filter((f) =>
      String(f).endsWith('.part'),
    );
    expect(leftovers).toEqual([]);

    hub.requests.length = 0;
    expect(await store(false).resolve({ id: ID, sha256: sourceDigest }, 'generator')).toEqual({
      dir,
      digest: sourceDigest,
      source: 'cache',
    });
    expect(hub.requests).toHaveLength(0);
  });

  it('two concurrent resolutions of one model download it once', async () => {
    const [a, b] = await Promise.all([
      store(true).resolve({ id: ID }, 'generator'),
      store(true).resolve({ id: ID }, 'generator'),
    ]);
    expect(a.digest).toBe(sourceDigest);
    expect([a.source, b.source].sort()).toEqual(['cache', 'download']);
    expect(hub.requests.filter((q) => q.file === 'unet/model.onnx')).toHaveLength(1);
  });

  it('keeps revisions apart in the cache', async () => {
    const r = await store(true).resolve({ id: ID, revision: 'v2' }, 'generator');
    expect(r.dir).toBe(path.join(cacheDir, 'fgl-test', 'fake-generator', 'v2'));
    expect(hub.requests.every((q) => q.url.startsWith(`/${ID}/resolve/v2/`))).toBe(true);
  });

  it('resumes with a Range request when the connection drops mid-file', async () => {
    hub.dropOnce('unet/model.onnx', 250_000);
    const r = await store(true).resolve({ id: ID, sha256: sourceDigest }, 'generator');
    expect(r.digest).toBe(sourceDigest);
    // The client keeps the bytes it had read when the connection closed (up to 250000) and asks
    // for the rest from there.
    const kept = Number(/interrupted at (\d+) bytes/.exec(logs.join('\n'))?.[1]);
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(kept).toBeLessThanOrEqual(250_000);
    const unet = hub.requests.filter((q) => q.file === 'unet/model.onnx');
    expect(unet.map((q) => [q.range, q.status])).toEqual([
      [null, 200],
      kept > 0 ? [`bytes=${kept}-`, 206] : [null, 200],
    ]);
  });

  it('resumes a partial download left by an earlier run', async () => {
    // An earlier run stopped after 123456 bytes of the UNet.
    const dir = path.join(cacheDir, 'fgl-test', 'fake-generator', 'main');
    await mkdir(path.join(dir, 'unet'), { recursive: true });
    const unetBytes = await readFile(path.join(source, 'unet', 'model.onnx'));
    await writeFile(path.join(dir, 'unet', 'model.onnx.part'), unetBytes.subarray(0, 123_456));
    for (const rel of MODEL_LAYOUTS.generator.required.filter((f) => !f.startsWith('unet/'))) {
      await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
      await writeFile(path.join(dir, rel), await readFile(path.join(source, rel)));
    }
    // Offline, the half-downloaded model is reported as incomplete, not used.
    await expect(store(false).resolve({ id: ID }, 'generator')).rejects.toThrow(
      /incomplete: missing unet\/model\.onnx\)/,
    );

    const r = await store(true).resolve({ id: ID }, 'generator');
    expect(r.digest).toBe(sourceDigest);
    const unet = hub.requests.filter((q) => q.file === 'unet/model.onnx');
    expect(unet.map((q) => [q.range, q.status])).toEqual([['bytes=123456-', 206]]);
    // Files already complete were not fetched again.
    expect(hub.requests.some((q) => q.file === 'model_index.json')).toBe(false);
  });

  it('gives up after maxAttempts with a message that says a rerun resumes', async () => {
    hub.dropOnce('unet/model.onnx', 100_000);
    await expect(store(true, { maxAttempts: 1 }).resolve({ id: ID }, 'generator')).rejects.toThrow(
      /Could not download .*unet\/model\.onnx after 1 attempts.*Run the command again to resume/,
    );
  });

  it('stops when aborted, keeping the partial file for the next run', async () => {
    const controller = new AbortController();
    const run = store(true).resolve({ id: ID }, 'generator', {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === 'unet/model.onnx' && p.bytes > 0)
          controller.abort(new Error('user cancelled'));
      },
    });
    await expect(run).rejects.toThrow(/user cancelled/);
    const part = path.join(
      cacheDir,
      'fgl-test',
      'fake-generator',
      'main',
      'unet',
      'model.onnx.part',
    );
    expect(await exists(part)).toBe(true);
    expect(hub.requests.filter((q) => q.file === 'unet/model.onnx')).toHaveLength(1);
  });

  it('refuses and deletes a download whose digest does not match', async () => {
    const wrong = 'b'.repeat(64);
    const err = await store(true)
      .resolve({ id: ID, sha256: wrong }, 'generator')
      .then(
        () => null,
        (e: Error) => e,
      );
    expect(err?.message).toContain(`has sha256 ${sourceDigest}, but ${wrong} is expected`);
    expect(await exists(path.join(cacheDir, 'fgl-test', 'fake-generator', 'main'))).toBe(false);
  });

  it('re-hashes a cached file that changed, and refuses it against the expected sha256', async () => {
    const r = await store(true).resolve({ id: ID }, 'generator');
    await writeFile(path.join(r.dir, 'tokenizer', 'vocab.json'), 'tampered');
    await expect(
      store(false).resolve({ id: ID, sha256: sourceDigest }, 'generator'),
    ).rejects.toThrow(/cached generator model .* is expected/);
  });

  it('a required file the hub does not have is a clear error', async () => {
    await expect(store(true).resolve({ id: ID }, 'clip')).rejects.toThrow(
      /config\.json was not found \(404\).*does not look like a clip model/,
    );
  });
});
