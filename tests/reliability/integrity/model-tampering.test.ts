import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MANIFEST_FILE,
  type ModelManifest,
  SIGNATURE_FILE,
} from '../../../src/shared/model-manifest';
import type { StudyManifest } from '../../../src/shared/study';
import { readAdminKey } from '../../../src/server/auth/admin-key';
import { ensureSigningKey } from '../../../src/server/auth/server-signing-key';
import { createServer } from '../../../src/server/create-server';
import { publishModel, type TrainedModelInfo } from '../../../src/server/publish/publish-model';
import { manifestBytes, signManifest } from '../../../src/server/publish/sign-manifest';
import type { StoredModel } from '../../../src/server/store/server-store';
import { trainProbe } from '../../../src/server/training/probe-trainer';
import { loadModelFromDir, saveModelToDir } from '../../../src/core/tfjs/file-io';
import { loadTf } from '../../../src/core/tfjs/tfjs-backend';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { pullModel } from '../../../src/site/client/pull-model';
import { ModelVerificationError } from '../../../src/core/models/verify-model-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import {
  createStudy,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../../helpers/reliability-figures';
import { storeSql } from '../../helpers/store-sql';

/*
 * Model integrity end to end: a real server publishes a real (tiny) trained probe; the test
 * tampers with what the SERVER holds and pulls through the real site client (pullModel). Every
 * tampering must be refused with the right check, leave nothing usable on the site's disk, and
 * be recorded in the site ledger as failed with the reason.
 */

const figures = {
  scenarios: 0,
  refusalsVerified: 0,
  refusalChecks: {} as Record<string, number>,
  acceptedControls: 0,
};

type Site = { ledger: Ledger; modelsRoot: string; study: StudyManifest };

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

async function listTree(dir: string): Promise<string[]> {
  if (!(await exists(dir))) return [];
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

describe('tampered models are refused by the site (reliability)', () => {
  let t: TestServer;
  let work: string;
  let probeDir: string;
  let trained: TrainedModelInfo;
  const ledgers: Ledger[] = [];
  let siteNo = 0;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-integrity-'));
    // A real trained probe (tiny: D = 8, 3 classes), saved as tfjs model.json + weight shard.
    const loaded = await loadTf();
    const classes = ['cat', 'dog', 'bird'];
    const features: Float32Array[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 30; i++) {
      const c = i % 3;
      features.push(
        Float32Array.from(
          { length: 8 },
          (_, d) => (d % 3 === c ? 1 : 0) + Math.sin(i * 7 + d) * 0.1,
        ),
      );
      labels.push(c);
    }
    const settings = {
      kind: 'probe' as const,
      epochs: 3,
      batchSize: 8,
      learningRate: 0.01,
      validationSplit: 0.2,
      patience: 2,
      seed: 1,
    };
    const r = await trainProbe({
      features,
      labels,
      classes,
      settings,
      probe: { hidden: 4 },
      tf: loaded,
    });
    probeDir = path.join(work, 'probe');
    await saveModelToDir(r.model, probeDir);
    r.model.dispose();
    trained = {
      kind: 'probe',
      preprocessing: r.preprocessing,
      backbone: null,
      training: { ...settings, backend: r.backend, samples: features.length },
      metrics: r.metrics,
    };
    t = await startTestServer({ dataDir: path.join(work, 'server') });
  });
  afterAll(async () => {
    for (const l of ledgers) l.close();
    await t.close();
    await fs.rm(work, { recursive: true, force: true });
    recordFigures('access.json', 'modelIntegrity', figures);
  });

  const publish = async (study: StudyManifest, server = t.server): Promise<StoredModel> => {
    const roundId = `round-${study.id.slice(-6)}-${await server.store.models.latestVersion(study.id) + 1}-test`;
    await server.store.rounds.insert(roundId, study.id);
    return publishModel({
      store: server.store,
      clock: server.clock,
      layout: server.layout,
      signingKey: server.signingKey,
      study,
      roundId,
      sourceDir: probeDir,
      model: trained,
    });
  };

  /** A new study with `versions` published models and a new site enrolled in it (its own ledger). */
  const scenario = async (
    name: string,
    versions: number,
  ): Promise<Site & { models: StoredModel[] }> => {
    figures.scenarios++;
    const study = await createStudy(t, { name });
    const models: StoredModel[] = [];
    for (let v = 0; v < versions; v++) models.push(await publish(study));
    const home = path.join(work, `site-${++siteNo}`);
    const ledger = Ledger.open(path.join(home, 'ledger.sqlite'));
    ledgers.push(ledger);
    const tok = await issueToken(t, study.id, `${name} site`);
    await enrollSite(ledger, t.url, tok.token, {
      expectFingerprint: t.server.signingKey.fingerprint,
    });
    return { study, ledger, modelsRoot: path.join(home, 'models'), models };
  };

  /** Pull must fail with `check`; the version's folder (and its staging folder) must be gone; the ledger says why. */
  const expectRefused = async (
    site: Site,
    version: number,
    check: string | string[],
    pull: Promise<unknown>,
  ) => {
    const err = await pull.then(
      () => undefined,
      (e: unknown) => e,
    );
    const checks = typeof check === 'string' ? [check] : check;
    expect(err, `expected a ${checks.join('/')} refusal, got ${String(err)}`).toBeInstanceOf(
      ModelVerificationError,
    );
    expect(checks).toContain((err as ModelVerificationError).check);
    check = (err as ModelVerificationError).check;
    const dir = path.join(site.modelsRoot, site.study.id, `v${version}`);
    expect(await exists(dir), `${dir} must be deleted`).toBe(false);
    expect(await exists(`${dir}.partial`), `${dir}.partial must be deleted`).toBe(false);
    const row = site.ledger.models.byVersion(site.study.id, version);
    expect(row?.verified).toBe('failed');
    expect(row?.verifyError).toContain(`(${check})`);
    figures.refusalsVerified++;
    figures.refusalChecks[check] = (figures.refusalChecks[check] ?? 0) + 1;
    return err as ModelVerificationError;
  };

  const pull = (site: Site, version?: number) =>
    pullModel(site.ledger, site.study.id, {
      modelsRoot: site.modelsRoot,
      ...(version !== undefined ? { version } : {}),
    });

  it('control: an untouched model is pulled, verified and loads as a tfjs model', async () => {
    const s = await scenario('Control', 1);
    const r = await pull(s);
    expect(r.row.verified).toBe('verified');
    const dir = path.join(s.modelsRoot, s.study.id, 'v1');
    expect(await listTree(dir)).toEqual([
      'group1-shard1of1.bin',
      'manifest.json',
      'manifest.sig',
      'model.json',
    ]);
    const model = await loadModelFromDir(dir);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    model.dispose();
    figures.acceptedControls++;
  });

  it('a flipped byte in the weight shard on the server is refused (file_hash)', async () => {
    const s = await scenario('Tampered weights', 1);
    const shard = path.join(s.models[0]!.dir, 'group1-shard1of1.bin');
    const bytes = await fs.readFile(shard);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await fs.writeFile(shard, bytes);
    await expectRefused(s, 1, 'file_hash', pull(s));
  });

  it('an edited manifest.json (better metrics) is refused (signature)', async () => {
    const s = await scenario('Tampered manifest', 1);
    const file = path.join(s.models[0]!.dir, MANIFEST_FILE);
    const m = JSON.parse(await fs.readFile(file, 'utf8')) as ModelManifest;
    m.metrics.valAccuracy = 0.999;
    await fs.writeFile(file, manifestBytes(m));
    await expectRefused(s, 1, 'signature', pull(s));
  });

  it('a manifest re-signed with another Ed25519 key is refused (signature)', async () => {
    const s = await scenario('Re-signed', 1);
    const other = generateKeyPairSync('ed25519');
    const file = path.join(s.models[0]!.dir, MANIFEST_FILE);
    const m = JSON.parse(await fs.readFile(file, 'utf8')) as ModelManifest;
    m.metrics.valAccuracy = 0.999;
    const bytes = manifestBytes(m);
    await fs.writeFile(file, bytes);
    await fs.writeFile(
      path.join(s.models[0]!.dir, SIGNATURE_FILE),
      signManifest(bytes, other.privateKey),
    );
    await expectRefused(s, 1, 'signature', pull(s));
  });

  it('pulling the accepted version again from a tampered server keeps the verified copy and its verified status', async () => {
    const s = await scenario('Re-pull', 1);
    expect((await pull(s)).row.verified).toBe('verified');
    const v1 = path.join(s.modelsRoot, s.study.id, 'v1');
    const good = await fs.readFile(path.join(v1, 'group1-shard1of1.bin'));
    // Later the server's copy is tampered with; the operator presses "pull" again (latest = v1).
    const shard = path.join(s.models[0]!.dir, 'group1-shard1of1.bin');
    const bytes = await fs.readFile(shard);
    bytes[0]! ^= 0xff;
    await fs.writeFile(shard, bytes);
    const err = await pull(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelVerificationError);
    expect((err as ModelVerificationError).check).toBe('file_hash');
    figures.refusalsVerified++;
    figures.refusalChecks['file_hash (re-pull)'] = 1;
    // pullModel verifies the staging folder first and swaps it in only when it passes.
    expect(await exists(v1), 'the verified v1 folder must survive a failed re-pull').toBe(true);
    expect(await fs.readFile(path.join(v1, 'group1-shard1of1.bin'))).toEqual(good);
    expect(s.ledger.models.byVersion(s.study.id, 1)?.verified).toBe('verified');
    expect(await exists(`${v1}.partial`)).toBe(false);
  });

  it('a downgrade is refused: the server drops v2 and serves v1 as latest, or replays v1 as v3 (downgrade)', async () => {
    const s = await scenario('Downgrade', 2);
    const ok = await pull(s);
    expect(ok.manifest.version).toBe(2);
    const v2dir = path.join(s.modelsRoot, s.study.id, 'v2');
    const v2files = await listTree(v2dir);
    // The server "loses" v2: v1 is its latest now.
    await storeSql(t.server.store).run('DELETE FROM models WHERE study_id = ? AND version = 2', s.study.id);
    await fs.rm(s.models[1]!.dir, { recursive: true, force: true });
    const list = await t.api('GET', `/v1/studies/${s.study.id}/models`, { key: t.adminKey });
    expect((list.json as { models: { version: number }[] }).models.map((m) => m.version)).toEqual([
      1,
    ]);
    await expectRefused(s, 1, 'downgrade', pull(s));
    // The server replays v1's signed folder under a new version number.
    const replay = path.join(path.dirname(s.models[0]!.dir), '3');
    await fs.cp(s.models[0]!.dir, replay, { recursive: true });
    await t.server.store.rounds.insert('round-replay-3', s.study.id);
    await t.server.store.models.insert({
      ...s.models[0]!,
      version: 3,
      roundId: 'round-replay-3',
      dir: replay,
    });
    const err = await expectRefused(s, 3, 'downgrade', pull(s));
    expect(err.message).toMatch(/version 1 is older than version 2/);
    // The model the site had accepted is untouched and still the one it uses.
    expect(await listTree(v2dir)).toEqual(v2files);
    expect(s.ledger.models.latest(s.study.id, { verifiedOnly: true })?.version).toBe(2);
  });

  it('a manifest signed with the server key whose file list leaves the folder (../x) is refused, writes nothing, and is recorded', async () => {
    const s = await scenario('Path escape', 1);
    // Forged with the server's own signing key, read from its data dir (a compromised server host).
    const key = await ensureSigningKey(t.server.layout.signingKey);
    const dir = s.models[0]!.dir;
    const m = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
    const payload = Buffer.from('escaped');
    m.files.push({
      path: '../x',
      bytes: payload.length,
      sha256: createHash('sha256').update(payload).digest('hex'),
    });
    const bytes = manifestBytes(m);
    await fs.writeFile(path.join(dir, MANIFEST_FILE), bytes);
    await fs.writeFile(path.join(dir, SIGNATURE_FILE), signManifest(bytes, key.privateKey));
    await fs.writeFile(path.join(path.dirname(dir), 'x'), payload);
    const siteRoot = path.dirname(s.modelsRoot);
    const before = await listTree(siteRoot);
    const err = await pull(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Refused, and nothing usable or outside the models folder was written.
    expect(err).toBeInstanceOf(Error);
    const added = (await listTree(siteRoot)).filter(
      (f) => !before.includes(f) && !f.startsWith('ledger.sqlite'),
    );
    expect(
      added.filter((f) => !/^models(\/[^/]+(\/v1\.partial)?)?$/.test(f)),
      'files written by the refused pull',
    ).toEqual([]);
    expect(await exists(path.join(s.modelsRoot, s.study.id, 'v1'))).toBe(false);
    expect(await exists(path.join(s.modelsRoot, 'x'))).toBe(false);
    expect(await exists(path.join(siteRoot, 'x'))).toBe(false);
    // The refusal is a ModelVerificationError ('manifest', as verifyModelFolder says for the same
    // manifest, or 'path'); the staging folder is removed and the ledger records the model as failed.
    await expectRefused(s, 1, ['manifest', 'path'], Promise.reject(err));
  });

  it('an extra file on the server is never served, and an unlisted file in the folder is refused (unexpected_file)', async () => {
    const s = await scenario('Extra file', 1);
    const dir = s.models[0]!.dir;
    await fs.writeFile(path.join(dir, 'preload.js'), 'require("child_process").exec("calc")');
    const direct = await t.api('GET', `/v1/studies/${s.study.id}/models/1/files/preload.js`, {
      key: t.adminKey,
    });
    expect(direct.status).toBe(404);
    expect(direct.json).toMatchObject({ error: { code: 'model_file_not_found' } });
    // A file left in the site's staging folder (an interrupted download it resumes) is not adopted.
    const staging = path.join(s.modelsRoot, s.study.id, 'v1.partial');
    await fs.mkdir(staging, { recursive: true });
    await fs.writeFile(path.join(staging, 'preload.js'), 'planted');
    await expectRefused(s, 1, 'unexpected_file', pull(s));
    // Once the folder is clean the same server model passes: the extra file never travelled.
    const r = await pull(s);
    expect(r.row.verified).toBe('verified');
    expect(await listTree(path.join(s.modelsRoot, s.study.id, 'v1'))).not.toContain('preload.js');
    figures.acceptedControls++;
  });

  it('a server that swapped its signing key is refused (signature); a site that re-pinned only the key, not the fingerprint, refuses (key_pin)', async () => {
    // Its own server: it restarts on the same data dir and port after losing its key.
    const dataDir = path.join(work, 'swap-server');
    const first = await startTestServer({ dataDir });
    const port = Number(new URL(first.url).port);
    const study = await createStudy(first, { name: 'Key swap' });
    const home = path.join(work, 'swap-site');
    const ledger = Ledger.open(path.join(home, 'ledger.sqlite'));
    ledgers.push(ledger);
    const tok = await issueToken(first, study.id, 'Pinned site');
    await enrollSite(ledger, first.url, tok.token, {
      expectFingerprint: first.server.signingKey.fingerprint,
    });
    const site: Site = { ledger, modelsRoot: path.join(home, 'models'), study };
    await publish(study, first.server);
    expect((await pull(site)).row.verified).toBe('verified');
    const oldFingerprint = first.server.signingKey.fingerprint;
    await first.server.close();

    await fs.rm(path.join(dataDir, 'keys', 'server-ed25519.pem'));
    const second = await createServer({
      dataDir,
      host: '127.0.0.1',
      port,
      stages: null,
      logger: { level: 'silent' },
    });
    try {
      await second.start();
      expect(second.signingKey.fingerprint).not.toBe(oldFingerprint);
      const health = (await (await fetch(`${second.url}/v1/health`)).json()) as {
        serverKeyFingerprint: string;
      };
      expect(health.serverKeyFingerprint).toBe(second.signingKey.fingerprint);
      await publish(study, second);
      // The site verifies against the key it pinned at enrollment, never the one the server has now.
      await expectRefused(site, 2, 'signature', pull(site));
      // If something rewrote the pinned public key (but not the fingerprint) the pin check catches it.
      const e = ledger.enrollments.list()[0]!;
      ledger.enrollments.upsert({ ...e, serverPublicKey: second.signingKey.publicKeyPem });
      await expectRefused(site, 2, 'key_pin', pull(site));
      expect(await readAdminKey(second.layout.adminKey)).toBe(first.adminKey);
    } finally {
      await second.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
