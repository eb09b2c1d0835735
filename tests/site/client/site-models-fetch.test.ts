import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder, type ModelsFolder } from '../../../src/cli/study/models-folder';
import { locateModelsFolder } from '../../../src/core/models/model-folders';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { ModelVerificationError } from '../../../src/core/models/verify-model-folder';
import type { ProgressEvent } from '../../../src/shared/progress';
import type { StudyManifest } from '../../../src/shared/study';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { plainVault } from '../../../src/site/client/site-key-vault';
import { fetchSiteModels, fetchSiteModelsFromHub, importSiteModels, siteModelsDir } from '../../../src/site/client/site-models-install';
import { startHubServer } from '../../helpers/hub-server';
import { Ledger } from '../../../src/site/ledger/ledger';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy';
import { issueToken, startTestServer, type TestServer } from '../../helpers/server-fixture';
import { getTinyModels, type TinyModels } from '../../helpers/tiny-models';
import { recordingContext } from '../../helpers/command-context';
import { siteModelsFetchCommand, siteModelsImportCommand } from '../../../src/cli/commands/site-models';

let tiny: TinyModels;
let models: ModelsFolder;
let t: TestServer;
let proxy: TcpProxy;
let study: StudyManifest;
let work: string;

/** A fresh site (ledger + model cache) enrolled through the proxy: every byte it fetches passes the proxy. */
async function freshSite() {
  const ledger = Ledger.open(':memory:');
  const { token } = await issueToken(t, study.id, `site-${Math.random().toString(36).slice(2, 8)}`);
  await enrollSite(ledger, proxy.url, token, { vault: plainVault });
  const modelsRoot = await mkdtemp(join(work, 'models-'));
  return { ledger, modelsRoot };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fgl-site-models-'));
  tiny = await getTinyModels();
  models = await describeModelsFolder(tiny.root);
  t = await startTestServer({
    siteModels: { encoder: models.encoderDir, clip: models.clip.dir, captioner: models.captioner?.dir ?? null },
  });
  proxy = await startTcpProxy(t.url);
  const manifest = buildStudyManifest({ name: 'Site models', classes: ['a', 'b'], models, k: 2 });
  const { id: _id, createdAt: _c, ...body } = manifest;
  const res = await t.api('POST', '/v1/studies', { key: t.adminKey, json: body });
  if (res.status !== 201) throw new Error(res.text);
  study = res.json as StudyManifest;
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await t?.close();
  await rm(work, { recursive: true, force: true });
});

describe('site models from the study server (real HTTP on loopback, tiny-model study)', () => {
  it('fetches the encoder, CLIP and captioner the study pins, with progress and ETA; the encoder loads and is the study’s', async () => {
    const { ledger, modelsRoot } = await freshSite();
    const events: ProgressEvent[] = [];
    const r = await fetchSiteModels(ledger, study.id, { modelsRoot, vault: plainVault, onProgress: (p) => events.push(p) });
    expect(r.dir).toBe(siteModelsDir(modelsRoot, study.id));
    expect(r.models.map((m) => [m.role, m.source])).toEqual([
      ['encoder', 'fetched'],
      ['clip', 'fetched'],
      ['captioner', 'fetched'],
    ]);
    expect(r.models.map((m) => m.sha256)).toEqual([study.encoder.sha256, study.clip.sha256, study.captioner!.sha256]);
    const listed = r.models.reduce((s, m) => s + m.bytes, 0);
    expect(r.bytes).toBe(listed);
    // Progress in bytes, ending at the total, with a rate and an ETA while it ran.
    expect(events.at(-1)).toMatchObject({ stage: 'download', done: listed, total: listed });
    expect(events.some((e) => e.etaSec !== null && e.ratePerSec > 0)).toBe(true);
    // A models folder the site uses as is: the encoder from encoder/, byte for byte the study's.
    const located = await locateModelsFolder(r.dir);
    expect(located.encoder).toBe(join(r.dir, 'encoder'));
    expect(located.tiny).toBe(true);
    const enc = await loadTextEncoder(located.encoder, { device: 'cpu' });
    expect(enc.digest).toBe(study.encoder.sha256);
    await enc.dispose();
    // No staging left behind; a second fetch verifies what is there and transfers nothing.
    expect((await readdir(join(modelsRoot, 'studies'))).sort()).toEqual([study.id]);
    const again = await fetchSiteModels(ledger, study.id, { modelsRoot, vault: plainVault });
    expect(again.models.map((m) => m.source)).toEqual(['already', 'already', 'already']);
    expect(again.bytes).toBe(0);
    ledger.close();
  });

  it('a connection dropped mid-file resumes with Range: the file is not downloaded again', async () => {
    const { ledger, modelsRoot } = await freshSite();
    const file = 'text_encoder/model.onnx';
    const size = (await stat(join(models.encoderDir, file))).size;
    expect(size).toBeGreaterThan(4096);
    const isFile = (h: string) => h.includes(`/site-models/encoder/files/${file} `);
    proxy.fault({ kind: 'cut', at: Math.floor(size / 2), match: (h) => isFile(h) && !/\r\nrange:/i.test(h) });
    const before = proxy.requests.length;
    const r = await fetchSiteModels(ledger, study.id, { modelsRoot, vault: plainVault });
    expect(proxy.faulted).toBe(true);
    const mine = proxy.requests.map((h, i) => ({ h, i })).slice(before).filter(({ h }) => isFile(h));
    expect(mine).toHaveLength(2);
    // The second request asks only for the rest…
    const range = /\r\nrange: bytes=(\d+)-\r\n/i.exec(mine[1]!.h);
    expect(range).not.toBeNull();
    const resumedFrom = Number(range![1]);
    expect(resumedFrom).toBeGreaterThan(0);
    // …and the two responses together carry the file once (plus two sets of headers).
    const carried = proxy.responseBytes[mine[0]!.i]! + proxy.responseBytes[mine[1]!.i]!;
    expect(carried).toBeLessThan(size + 2048);
    expect(r.bytes).toBe(r.models.reduce((s, m) => s + m.bytes, 0));
    expect(await readFile(join(r.dir, 'encoder', file))).toEqual(await readFile(join(models.encoderDir, file)));
    ledger.close();
  });

  it('a file altered on the way is refused with a clear error, deleted, and nothing is installed', async () => {
    const { ledger, modelsRoot } = await freshSite();
    proxy.fault({ kind: 'flip', at: 2000, match: (h) => h.includes('/site-models/clip/files/onnx/vision_model.onnx ') });
    const err = await fetchSiteModels(ledger, study.id, { modelsRoot, vault: plainVault }).catch((e: unknown) => e);
    expect(proxy.faulted).toBe(true);
    expect(err).toBeInstanceOf(ModelVerificationError);
    expect((err as Error).message).toMatch(/^Model refused \(file_hash\): clip\/onnx\/vision_model\.onnx from http:\/\/127\.0\.0\.1:\d+ does not match the study's digest .*; it was deleted$/);
    expect((err as { hint: string }).hint).toMatch(/Nothing was installed/);
    expect(existsSync(siteModelsDir(modelsRoot, study.id))).toBe(false);
    expect(existsSync(join(modelsRoot, 'studies', `.${study.id}.partial`, 'clip', 'onnx', 'vision_model.onnx'))).toBe(false);
    // The next fetch gets the real bytes and installs.
    const r = await fetchSiteModels(ledger, study.id, { modelsRoot, vault: plainVault });
    expect(r.models.every((m) => m.source === 'fetched')).toBe(true);
    ledger.close();
  });

  it('a server without the models says which and how else to get them; the file route serves only listed files', async () => {
    const bare = await startTestServer();
    try {
      const { id: _id, createdAt: _c, ...body } = study;
      const s2 = (await bare.api('POST', '/v1/studies', { key: bare.adminKey, json: body })).json as StudyManifest;
      const ledger = Ledger.open(':memory:');
      const { token } = await issueToken(bare, s2.id, 'bare-site');
      await enrollSite(ledger, bare.url, token, { vault: plainVault });
      const modelsRoot = await mkdtemp(join(work, 'models-'));
      const err = (await fetchSiteModels(ledger, s2.id, { modelsRoot, vault: plainVault }).catch((e: unknown) => e)) as Error & { hint: string };
      expect(err.message).toBe(`The study server cannot provide the study's encoder model ${s2.encoder.id}: this server was started without a encoder model (fgl server start --models DIR).`);
      expect(err.hint).toContain(`fgl site models import --study ${s2.id} DIR`);
      ledger.close();
    } finally {
      await bare.close();
    }
    // Listed files only, with ranges; a path outside the list is 404.
    const ledger = Ledger.open(':memory:');
    const { token } = await issueToken(t, study.id, 'route-site');
    const { apiKey } = (await t.api('POST', '/v1/enroll', { json: { token } })).json as { apiKey: string };
    ledger.close();
    const part = await t.api('GET', `/v1/studies/${study.id}/site-models/clip/files/config.json`, { key: apiKey, headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.bytes).toEqual(new Uint8Array((await readFile(join(models.clip.dir, 'config.json'))).subarray(0, 10)));
    const outside = await t.api('GET', `/v1/studies/${study.id}/site-models/clip/files/manifest.json`, { key: apiKey });
    expect(outside.status).toBe(404);
    const anonymous = await t.api('GET', `/v1/studies/${study.id}/site-models`);
    expect(anonymous.status).toBe(401);
  });

  it('imports the same models from a folder (USB bundle), and refuses a bundle with another CLIP', async () => {
    const modelsRoot = await mkdtemp(join(work, 'models-'));
    const r = await importSiteModels(study, tiny.root, { modelsRoot });
    expect(r.models.map((m) => [m.role, m.source])).toEqual([
      ['encoder', 'imported'],
      ['clip', 'imported'],
      ['captioner', 'imported'],
    ]);
    expect((await locateModelsFolder(r.dir)).encoder).toBe(join(r.dir, 'encoder'));
    // What fetch installs is itself a bundle another site can import.
    const other = await mkdtemp(join(work, 'models-'));
    expect((await importSiteModels(study, r.dir, { modelsRoot: other })).models.every((m) => m.source === 'imported')).toBe(true);

    const bad = join(work, 'bad-bundle');
    await cp(r.dir, bad, { recursive: true });
    await writeFile(join(bad, 'clip', 'config.json'), '{"changed": true}');
    const third = await mkdtemp(join(work, 'models-'));
    const err = (await importSiteModels(study, bad, { modelsRoot: third }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(ModelVerificationError);
    expect(err.message).toMatch(/the clip model in .*bad-bundle\/clip \(sha256 [0-9a-f]{12}…\) is not the study's fgl-tiny\/clip \(sha256 [0-9a-f]{12}…\); nothing was installed/);
    expect(existsSync(siteModelsDir(third, study.id))).toBe(false);
  });

  it('fgl site models fetch / import: the same through the CLI, into $FGL_HOME/models/studies/<study>', async () => {
    const saved = process.env.FGL_HOME;
    const home = await mkdtemp(join(work, 'home-'));
    const home2 = await mkdtemp(join(work, 'home-'));
    try {
      process.env.FGL_HOME = home;
      const ledger = Ledger.open(join(home, 'ledger.sqlite'));
      const { token } = await issueToken(t, study.id, 'cli-site');
      await enrollSite(ledger, proxy.url, token, { vault: plainVault });
      ledger.close();
      const fetched = recordingContext({ study: study.id }, false);
      await siteModelsFetchCommand.run(fetched.ctx);
      const dir = join(home, 'models', 'studies', study.id);
      expect(fetched.results[0]).toMatchObject({ studyId: study.id, dir });
      expect(fetched.human[0]).toContain(`Use them: fgl site prepare --models ${dir}`);
      expect(fetched.human[0]).toMatch(/ {2}encoder {3}fgl-tiny\/generator {2}sha256 [0-9a-f]{12}… {2}\d+ files, \d+ bytes {2}fetched, every file checked by sha256/);
      // Another, offline site: the study from a file, the models from the first site's folder.
      process.env.FGL_HOME = home2;
      const studyFile = join(work, 'study.json');
      await writeFile(studyFile, JSON.stringify(study));
      const imported = recordingContext({ study: studyFile }, true, [dir]);
      await siteModelsImportCommand.run(imported.ctx);
      expect(imported.results[0]).toMatchObject({ dir: join(home2, 'models', 'studies', study.id) });
      expect((imported.results[0] as { models: { source: string }[] }).models.map((m) => m.source)).toEqual(['imported', 'imported', 'imported']);
    } finally {
      if (saved === undefined) delete process.env.FGL_HOME;
      else process.env.FGL_HOME = saved;
    }
  });

  it('from the hub only with explicit consent; then by the study’s ids, checked against its digests', async () => {
    const modelsRoot = await mkdtemp(join(work, 'models-'));
    const refused = (await fetchSiteModelsFromHub(study, { modelsRoot, cacheDir: modelsRoot, allowNetwork: false }).catch((e: unknown) => e)) as Error & { code: string; hint: string };
    expect(refused.code).toBe('network_not_allowed');
    expect(refused.hint).toContain('FGL_ALLOW_NETWORK=1');
    const hub = await startHubServer();
    try {
      // The ids the tiny study names: the encoder comes with its generator repository.
      hub.addRepo(study.encoder.id, models.generator.dir);
      hub.addRepo(study.clip.id, models.clip.dir);
      hub.addRepo(study.captioner!.id, models.captioner!.dir);
      expect(hub.requests).toHaveLength(0);
      const r = await fetchSiteModelsFromHub(study, { modelsRoot, cacheDir: join(modelsRoot, 'hub'), allowNetwork: true, remoteHost: hub.url });
      expect(r.models.map((m) => [m.role, m.source])).toEqual([
        ['encoder', 'imported'],
        ['clip', 'imported'],
        ['captioner', 'imported'],
      ]);
      expect(hub.requests.length).toBeGreaterThan(0);
      expect((await locateModelsFolder(r.dir)).encoder).toBe(join(r.dir, 'encoder'));
      // No links or temporary bundle left beside the installed folder.
      expect((await readdir(join(modelsRoot, 'studies'))).sort()).toEqual([study.id]);
    } finally {
      await hub.close();
    }
  });
});
