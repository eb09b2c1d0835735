// kill -9 of a real server process in the middle of a round (synthesis, training, publishing);
// the restarted server must finish the round from where it was, with exactly one signed version.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelVersion, RoundStatus } from '../../../src/shared/server-api';
import type { StudyManifest } from '../../../src/shared/study';
import { expectEveryImageOnce } from '../../helpers/synthetic-images';
import { verifyModelFolder } from '../../../src/core/models/verify-model-folder';
import { killAllChildren, pollUntil, type TsChild } from '../../helpers/child-process';
import { buildPackage } from '../../helpers/server-fixture';
import { getTinyModels } from '../../helpers/tiny-models';
import {
  apiClient,
  createStudyOn,
  enrollOn,
  exists,
  freePort,
  integrityCheck,
  NO_DP,
  queryOnce,
  readAdminKeyFile,
  recordFault,
  roundRow,
  sha256Hex,
  startServerChild,
  tinyStudyBody,
} from './fault-harness';

const SUITE = 'server-round-kill';

let modelsDir: string;
let dataDir: string;
let port: number;
let server: { child: TsChild; url: string };
let admin: ReturnType<typeof apiClient>;
let dbFile: string;

async function restartServer(extraShardBytes = 0): Promise<number> {
  const s = await startServerChild(
    { dataDir, port, modelsDir, extraShardBytes },
    { name: `server(${extraShardBytes ? 'shard' : 'plain'})` },
  );
  server = s;
  admin = apiClient(s.url, await readAdminKeyFile(dataDir));
  return s.startMs;
}

/** A study with one site's package uploaded, and its round started; returns what the checks need. */
async function studyWithRunningRound(o: {
  name: string;
  imagesPerRow: number;
  steps: number;
  rows: number;
}): Promise<{
  study: StudyManifest;
  roundId: string;
  packageSha: string;
  publicKeyPem: string;
  fingerprint: string;
}> {
  const study = await createStudyOn(
    admin,
    await tinyStudyBody(modelsDir, { name: o.name, imagesPerRow: o.imagesPerRow, steps: o.steps }),
  );
  const site = await enrollOn(server.url, admin, study.id, `${o.name} site`);
  const pkg = buildPackage(study, site.siteId, { n: o.rows, metadata: NO_DP });
  const packageSha = sha256Hex(pkg);
  const put = await apiClient(server.url, site.apiKey)(
    'PUT',
    `/v1/studies/${study.id}/packages/${packageSha}`,
    pkg,
  );
  expect(put.status, put.text).toBe(201);
  const r = await admin('POST', `/v1/studies/${study.id}/rounds`, { run: true });
  expect(r.status, r.text).toBe(201);
  const roundId = (r.json as { round: RoundStatus }).round.id;
  return {
    study,
    roundId,
    packageSha,
    publicKeyPem: site.serverPublicKey,
    fingerprint: site.fingerprint,
  };
}

async function waitFinal(roundId: string, what: string): Promise<RoundStatus['state']> {
  const row = await pollUntil(
    () => {
      const r = roundRow(dbFile, roundId);
      return r && (r.state === 'published' || r.state === 'failed') ? r : undefined;
    },
    { what, timeoutMs: 90_000, intervalMs: 50, child: server.child },
  );
  expect(row.error).toBeNull();
  return row.state;
}

/** The study's model versions as the store, the models folder and the API each see them. */
async function publishedVersions(studyId: string) {
  const rows = queryOnce<{ version: number; round_id: string }>(
    dbFile,
    'SELECT version, round_id FROM models WHERE study_id = ? ORDER BY version',
    studyId,
  );
  const folders = (await fs.readdir(path.join(dataDir, 'models', studyId)).catch(() => [])).sort();
  const api = await admin('GET', `/v1/studies/${studyId}/models`);
  expect(api.status).toBe(200);
  const served = (api.json as { models: ModelVersion[] }).models.map((m) => m.version);
  return { rows, folders, served };
}

async function expectOneVerifiedVersion(s: {
  study: StudyManifest;
  roundId: string;
  publicKeyPem: string;
  fingerprint: string;
}): Promise<string[]> {
  const v = await publishedVersions(s.study.id);
  expect(v.rows).toEqual([{ version: 1, round_id: s.roundId }]);
  expect(v.folders).toEqual(['1']);
  expect(v.served).toEqual([1]);
  expect(roundRow(dbFile, s.roundId)!.model_version).toBe(1);
  // What a site does before it trusts a model: pinned key, signature, every file's sha256.
  const manifest = await verifyModelFolder(path.join(dataDir, 'models', s.study.id, '1'), {
    publicKeyPem: s.publicKeyPem,
    pinnedFingerprint: s.fingerprint,
  });
  expect(manifest.roundId).toBe(s.roundId);
  // Nothing half-published is served next to it.
  const v2 = await admin('GET', `/v1/studies/${s.study.id}/models/2/manifest.json`);
  expect(v2.status).toBe(404);
  expect(
    (await fs.readdir(path.join(dataDir, 'tmp'))).filter((n) => n.startsWith('publish-')),
  ).toEqual([]);
  return manifest.files.map((f) => f.path);
}

beforeAll(async () => {
  modelsDir = (await getTinyModels()).root;
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fault-round-'));
  dbFile = path.join(dataDir, 'server.db');
  port = await freePort();
  await restartServer();
}, 120_000);

afterAll(async () => {
  await server?.child.stop();
  await killAllChildren();
  if (dataDir) {
    // After every kill and restart, the store is still a sound SQLite file.
    expect(integrityCheck(dbFile)).toEqual(['ok']);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

describe('server killed with SIGKILL mid-round, then restarted', () => {
  it('during SYNTHESIS: the round finishes, images made before the kill are kept as they were, the set is complete', async () => {
    const rows = 6;
    const imagesPerRow = 16;
    const s = await studyWithRunningRound({
      name: 'Synthesis kill',
      imagesPerRow,
      steps: 20,
      rows,
    });
    const total = rows * imagesPerRow;
    const dir = path.join(dataDir, 'rounds', s.roundId, 'synthetic', s.packageSha);
    const sidecars = async () =>
      (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /^\d+-\d+\.json$/.test(n));

    // Kill once a quarter of the images are on disk.
    await pollUntil(async () => ((await sidecars()).length >= total / 4 ? true : undefined), {
      what: `${total / 4} synthesized images`,
      timeoutMs: 60_000,
      intervalMs: 5,
      child: server.child,
    });
    await server.child.kill9();
    const killedAt = roundRow(dbFile, s.roundId)!;
    expect(killedAt.state).toBe('synthesizing');

    // What survived the kill: complete images (sidecar written last), fingerprinted by inode + mtime + bytes.
    const done = await sidecars();
    expect(done.length).toBeGreaterThanOrEqual(total / 4);
    expect(done.length).toBeLessThan(total);
    const before = new Map<
      string,
      { ino: number; mtimeMs: number; sha: string; sidecar: string }
    >();
    for (const name of done) {
      const png = path.join(dir, name.replace('.json', '.png'));
      const st = await fs.stat(png);
      before.set(name, {
        ino: st.ino,
        mtimeMs: st.mtimeMs,
        sha: sha256Hex(await fs.readFile(png)),
        sidecar: await fs.readFile(path.join(dir, name), 'utf8'),
      });
    }
    const leftoversAtKill = (await fs.readdir(dir)).filter((n) => n.endsWith('.part')).length;

    const t0 = performance.now();
    const startMs = await restartServer();
    expect(await waitFinal(s.roundId, 'the resumed round to finish')).toBe('published');
    const recoverySeconds = (performance.now() - t0) / 1000;

    for (const rec of await expectEveryImageOnce(dir, rows, imagesPerRow)) expect(rec.steps).toBe(20);
    let kept = 0;
    for (const [name, b] of before) {
      const png = path.join(dir, name.replace('.json', '.png'));
      const st = await fs.stat(png);
      expect({ ino: st.ino, mtimeMs: st.mtimeMs }, `${name} was rewritten`).toEqual({
        ino: b.ino,
        mtimeMs: b.mtimeMs,
      });
      expect(sha256Hex(await fs.readFile(png))).toBe(b.sha);
      expect(await fs.readFile(path.join(dir, name), 'utf8')).toBe(b.sidecar);
      kept++;
    }
    await expectOneVerifiedVersion(s);
    expect(integrityCheck(dbFile)).toEqual(['ok']);

    await recordFault({
      suite: SUITE,
      test: 'synthesis',
      fault: 'SIGKILL server while synthesizing',
      injectedAt: {
        state: killedAt.state,
        imagesDone: done.length,
        imagesTotal: total,
        tempFilesLeft: leftoversAtKill,
      },
      recovered: true,
      recoverySeconds,
      details: {
        imagesKept: kept,
        imagesGeneratedAfterRestart: total - kept,
        serverStartMs: Math.round(startMs),
        versions: 1,
      },
    });
  });

  it('during TRAINING: the restarted server trains again and publishes exactly one version that verifies', async () => {
    const s = await studyWithRunningRound({
      name: 'Training kill',
      imagesPerRow: 2,
      steps: 2,
      rows: 6,
    });
    // Kill as soon as the round is in training and the train stage has started.
    await pollUntil(
      () =>
        queryOnce<{ status: string }>(
          dbFile,
          `SELECT s.status FROM rounds r JOIN round_stages s ON s.round_id = r.id AND s.stage = 'train'
           WHERE r.id = ? AND r.state = 'training' AND s.status = 'running'`,
          s.roundId,
        )[0],
      { what: 'the train stage to start', timeoutMs: 60_000, intervalMs: 5, child: server.child },
    );
    await server.child.kill9();
    const stageAtKill = queryOnce<{ status: string; attempts: number }>(
      dbFile,
      "SELECT status, attempts FROM round_stages WHERE round_id = ? AND stage = 'train'",
      s.roundId,
    )[0];
    expect(roundRow(dbFile, s.roundId)!.state).toBe('training');
    expect(stageAtKill).toEqual({ status: 'running', attempts: 1 });
    expect(queryOnce(dbFile, 'SELECT version FROM models WHERE study_id = ?', s.study.id)).toEqual(
      [],
    );

    const t0 = performance.now();
    await restartServer();
    expect(await waitFinal(s.roundId, 'the resumed training')).toBe('published');
    const recoverySeconds = (performance.now() - t0) / 1000;
    const train = queryOnce<{ status: string; attempts: number }>(
      dbFile,
      "SELECT status, attempts FROM round_stages WHERE round_id = ? AND stage = 'train'",
      s.roundId,
    )[0];
    expect(train).toEqual({ status: 'done', attempts: 2 });
    const synth = queryOnce<{ attempts: number }>(
      dbFile,
      "SELECT attempts FROM round_stages WHERE round_id = ? AND stage = 'synthesize'",
      s.roundId,
    )[0];
    expect(synth!.attempts).toBe(1);
    await expectOneVerifiedVersion(s);
    expect(integrityCheck(dbFile)).toEqual(['ok']);
    await recordFault({
      suite: SUITE,
      test: 'training',
      fault: 'SIGKILL server while training',
      injectedAt: { state: 'training', trainStage: stageAtKill },
      recovered: true,
      recoverySeconds,
      details: { trainAttempts: train!.attempts, synthesisAttempts: synth!.attempts, versions: 1 },
    });
  });

  it('during PUBLISHING: no half-published version is ever served; the restart publishes exactly one', async () => {
    const shard = 48 * 1024 * 1024;
    // A big weight file makes publishing (copy, hash, fsync, verify, rename) long enough to hit.
    await server.child.stop();
    await restartServer(shard);
    const s = await studyWithRunningRound({
      name: 'Publish kill',
      imagesPerRow: 2,
      steps: 2,
      rows: 6,
    });
    const tmpDir = path.join(dataDir, 'tmp');
    const staging = await pollUntil(
      async () => (await fs.readdir(tmpDir)).find((n) => n.startsWith(`publish-${s.study.id}-`)),
      { what: 'the publish staging folder', timeoutMs: 60_000, intervalMs: 2, child: server.child },
    );
    await server.child.kill9();
    // Where the kill landed, seen from outside.
    const injectedAt = {
      state: roundRow(dbFile, s.roundId)!.state,
      stagingLeft: await exists(path.join(tmpDir, staging)),
      versionFolder: await exists(path.join(dataDir, 'models', s.study.id, '1')),
      versionRows: queryOnce(dbFile, 'SELECT version FROM models WHERE study_id = ?', s.study.id)
        .length,
    };
    expect(injectedAt.state).toBe('training');

    const t0 = performance.now();
    await restartServer(shard);
    expect(await waitFinal(s.roundId, 'the resumed publish')).toBe('published');
    const recoverySeconds = (performance.now() - t0) / 1000;
    const files = await expectOneVerifiedVersion(s);
    expect(files).toContain('extra-shard.bin');
    // Training was not redone: the publish resumed from the recorded training output.
    const train = queryOnce<{ attempts: number }>(
      dbFile,
      "SELECT attempts FROM round_stages WHERE round_id = ? AND stage = 'train'",
      s.roundId,
    )[0];
    expect(train!.attempts).toBe(1);
    expect(integrityCheck(dbFile)).toEqual(['ok']);
    await recordFault({
      suite: SUITE,
      test: 'publishing',
      fault: 'SIGKILL server while publishing a 48 MiB model',
      injectedAt,
      recovered: true,
      recoverySeconds,
      details: { versions: 1, trainAttempts: train!.attempts },
    });
  });
});
