import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import { publishModel } from '../../../src/server/publish/publish-model';
import {
  buildPackage,
  createStudy,
  enrollSite,
  issueToken,
  sha256Hex,
  startTestServer,
  type ApiResponse,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../../helpers/reliability-figures';
import { storeSql } from '../../helpers/store-sql';

/*
 * Access control as a matrix: every caller × every resource, every route with a revoked key,
 * every admin route with every kind of non-admin credential. Routes are taken from the server's
 * own OpenAPI document, so a route added later is covered without editing this file.
 */

type Site = { siteId: string; apiKey: string };
type OpenApiOp = { security: Record<string, string[]>[] };
type OpenApiDoc = { paths: Record<string, Record<string, OpenApiOp>> };
type ErrorBody = { error: { code: string; message: string; hint?: string } };

const figures = {
  checks: 0,
  packageVisibilityPairs: 0,
  foreignStudyRoutes: 0,
  revokedRoutes401: 0,
  adminRouteCredentialPairs: 0,
  modelEnumerationProbes: 0,
};

function errorOf(res: ApiResponse): { status: number; code: string; hint: string | undefined } {
  const e = (res.json as ErrorBody | undefined)?.error;
  return { status: res.status, code: e?.code ?? '(not an error body)', hint: e?.hint };
}

describe('access control matrix (reliability)', () => {
  let t: TestServer;
  let s1: StudyManifest;
  let s2: StudyManifest;
  let a: Site;
  let b: Site;
  let c: Site;
  let doc: OpenApiDoc;
  const pkgs: { sha: string; study: string; owner: string; bytes: Uint8Array }[] = [];
  let modelSrc: string;
  const roundOf: Record<string, string> = {};

  const put = (key: string, study: StudyManifest, bytes: Uint8Array) =>
    t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(bytes)}`, { key, body: bytes });

  beforeAll(async () => {
    t = await startTestServer();
    s1 = await createStudy(t, { name: 'Chest X-ray consortium' });
    s2 = await createStudy(t, { name: 'Dermatology secret study' });
    a = await enrollSite(t, s1.id, 'Site A');
    b = await enrollSite(t, s1.id, 'Site B');
    c = await enrollSite(t, s2.id, 'Site C');
    for (const [site, study, seed] of [
      [a, s1, 1],
      [a, s1, 2],
      [b, s1, 3],
      [c, s2, 4],
    ] as const) {
      const bytes = buildPackage(study, site.siteId, { seed });
      expect((await put(site.apiKey, study, bytes)).status).toBe(201);
      pkgs.push({ sha: sha256Hex(bytes), study: study.id, owner: site.siteId, bytes });
    }
    // A published model in each study (plain files: access control does not care what they hold).
    modelSrc = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-access-model-'));
    await fs.writeFile(path.join(modelSrc, 'model.json'), '{"format":"layers-model"}');
    await fs.writeFile(path.join(modelSrc, 'group1-shard1of1.bin'), new Uint8Array(256).fill(7));
    for (const [study, n] of [
      [s1, 1],
      [s2, 2],
    ] as const) {
      for (let v = 1; v <= n; v++) {
        const roundId = `round-${study.id.slice(0, 20)}-${v}`.replace(/-+$/, '');
        await t.server.store.rounds.insert(roundId, study.id);
        roundOf[study.id] = roundId;
        await publishModel({
          store: t.server.store,
          clock: t.server.clock,
          layout: t.server.layout,
          signingKey: t.server.signingKey,
          study,
          roundId,
          sourceDir: modelSrc,
          model: {
            kind: 'probe',
            preprocessing: { input: 'clip-image-embeds', normalize: true },
            backbone: null,
            training: { ...study.training, backend: 'cpu', samples: 4 },
            metrics: { valAccuracy: 0.5, valLoss: 1, valSamples: 2, epochs: 1 },
          },
        });
      }
    }
    doc = (await t.api('GET', '/v1/openapi.json')).json as OpenApiDoc;
  });
  afterAll(async () => {
    await t.close();
    await fs.rm(modelSrc, { recursive: true, force: true });
    recordFigures('access.json', 'accessMatrix', figures);
  });

  it('every caller sees exactly its own packages, by list and by sha, in every study', async () => {
    const callers = [
      { name: 'A', key: a.apiKey, siteId: a.siteId as string | null, studies: [s1.id] },
      { name: 'B', key: b.apiKey, siteId: b.siteId, studies: [s1.id] },
      { name: 'C', key: c.apiKey, siteId: c.siteId, studies: [s2.id] },
      { name: 'admin', key: t.adminKey, siteId: null, studies: [s1.id, s2.id] },
    ];
    for (const caller of callers) {
      for (const study of [s1, s2]) {
        const list = await t.api('GET', `/v1/studies/${study.id}/packages`, { key: caller.key });
        figures.checks++;
        if (!caller.studies.includes(study.id)) {
          expect(errorOf(list), `${caller.name} lists ${study.id}`).toMatchObject({
            status: 404,
            code: 'study_not_found',
          });
          continue;
        }
        const listed = (list.json as { packages: { sha256: string; siteId: string }[] }).packages;
        const expected = pkgs
          .filter(
            (p) => p.study === study.id && (caller.siteId === null || p.owner === caller.siteId),
          )
          .map((p) => p.sha)
          .sort();
        expect(listed.map((p) => p.sha256).sort(), `${caller.name} lists ${study.id}`).toEqual(
          expected,
        );
      }
      const absent = await t.api('GET', `/v1/studies/${s1.id}/packages/${'0'.repeat(64)}`, {
        key: t.adminKey,
      });
      for (const p of pkgs) {
        const res = await t.api('GET', `/v1/studies/${p.study}/packages/${p.sha}`, {
          key: caller.key,
        });
        figures.checks++;
        figures.packageVisibilityPairs++;
        const mayRead = caller.siteId === null || caller.siteId === p.owner;
        if (mayRead) {
          expect(res.status, `${caller.name} reads ${p.sha.slice(0, 8)}`).toBe(200);
          expect(res.json).toMatchObject({ sha256: p.sha, siteId: p.owner });
          expect(res.text).not.toContain(t.server.layout.packagesDir);
        } else if (caller.studies.includes(p.study)) {
          // Another site's package in a shared study: the same answer as a package that does not exist.
          expect(errorOf(res)).toEqual(errorOf(absent));
          expect(res.text).not.toContain(p.owner);
        } else {
          expect(errorOf(res)).toMatchObject({ status: 404, code: 'study_not_found' });
        }
      }
    }
  });

  it("a site cannot upload into, or read anything of, a study it is not in: every route answers like a study that doesn't exist", async () => {
    const sha2 = pkgs.find((p) => p.study === s2.id)!.sha;
    const routes = (studyId: string) => [
      `/v1/studies/${studyId}`,
      `/v1/studies/${studyId}/manifest`,
      `/v1/studies/${studyId}/packages`,
      `/v1/studies/${studyId}/packages/${sha2}`,
      `/v1/studies/${studyId}/rounds/latest`,
      `/v1/studies/${studyId}/models`,
      `/v1/studies/${studyId}/models/1/manifest.json`,
      `/v1/studies/${studyId}/models/1/manifest.sig`,
      `/v1/studies/${studyId}/models/1/files/model.json`,
      `/v1/studies/${studyId}/models/2/files/group1-shard1of1.bin`,
    ];
    const ghost = 'no-such-study';
    const ghostRoutes = routes(ghost);
    for (const [i, p] of routes(s2.id).entries()) {
      const res = await t.api('GET', p, { key: a.apiKey });
      const none = await t.api('GET', ghostRoutes[i]!, { key: a.apiKey });
      figures.checks++;
      figures.foreignStudyRoutes++;
      expect(errorOf(res), p).toEqual(errorOf(none));
      expect(res.status, p).toBe(404);
      expect(res.text, p).not.toContain(s2.name);
    }
    // Uploading: a package built for the foreign study (it names site A correctly) is still refused,
    // and nothing is stored.
    const before = (await fs.readdir(t.server.layout.packagesDir)).sort();
    const bytes = buildPackage(s2, a.siteId, { seed: 9 });
    const up = await put(a.apiKey, s2, bytes);
    const upGhost = await t.api('PUT', `/v1/studies/${ghost}/packages/${sha256Hex(bytes)}`, {
      key: a.apiKey,
      body: bytes,
    });
    figures.checks += 2;
    expect(errorOf(up)).toEqual(errorOf(upGhost));
    expect(up.status).toBe(404);
    expect((await fs.readdir(t.server.layout.packagesDir)).sort()).toEqual(before);
  });

  it('a site cannot tell whether a round of another study exists (same answer as an unknown round, no study id in it)', async () => {
    const foreignRound = roundOf[s2.id]!;
    const res = await t.api('GET', `/v1/rounds/${foreignRound}`, { key: a.apiKey });
    const unknown = await t.api('GET', '/v1/rounds/round-20000101-000000-abcdef', {
      key: a.apiKey,
    });
    figures.checks++;
    expect(res.status).toBe(404);
    expect(res.text).not.toContain(s2.id);
    expect(errorOf(res)).toEqual(errorOf(unknown));
    // The owner still sees it.
    expect((await t.api('GET', `/v1/rounds/${foreignRound}`, { key: c.apiKey })).status).toBe(200);
  });

  it('a site key cannot enumerate models of other studies: lists, versions, manifests, signatures, files', async () => {
    // Own study: only own models, every entry belongs to the study.
    const own = await t.api('GET', `/v1/studies/${s1.id}/models`, { key: a.apiKey });
    const models = (own.json as { models: { studyId: string; version: number }[] }).models;
    expect(models.map((m) => [m.studyId, m.version])).toEqual([[s1.id, 1]]);
    expect(own.text).not.toContain(t.server.layout.modelsDir);
    const studies = await t.api('GET', '/v1/studies', { key: a.apiKey });
    expect((studies.json as { studies: { id: string }[] }).studies.map((s) => s.id)).toEqual([
      s1.id,
    ]);
    expect(studies.text).not.toContain(s2.name);
    figures.checks += 2;
    // Every probe into study 2 (which has versions 1 and 2) answers like a version that does not exist.
    for (let v = 1; v <= 4; v++) {
      for (const tail of ['manifest.json', 'manifest.sig', 'files/model.json']) {
        const res = await t.api('GET', `/v1/studies/${s2.id}/models/${v}/${tail}`, {
          key: a.apiKey,
        });
        const ghost = await t.api('GET', `/v1/studies/no-such-study/models/${v}/${tail}`, {
          key: a.apiKey,
        });
        figures.checks++;
        figures.modelEnumerationProbes++;
        expect(errorOf(res), `v${v}/${tail}`).toEqual(errorOf(ghost));
        expect(res.bytes.length).toBeLessThan(1000);
      }
    }
    // The owner of study 2 does get them (so the 404s above are access control, not absence).
    const sig = await t.api('GET', `/v1/studies/${s2.id}/models/2/manifest.sig`, { key: c.apiKey });
    expect(sig.status).toBe(200);
  });

  it('revoking a site makes every route answer 401 to its key, at once, and leaves other sites working', async () => {
    const r = await enrollSite(t, s1.id, 'Site to revoke');
    const bytes = buildPackage(s1, r.siteId, { seed: 42 });
    expect((await put(r.apiKey, s1, bytes)).status).toBe(201);
    const fill = (p: string) =>
      p
        .replace('{studyId}', s1.id)
        .replace('{sha256}', sha256Hex(bytes))
        .replace('{roundId}', roundOf[s1.id]!)
        .replace('{version}', '1')
        .replace('{path}', 'model.json')
        .replace('{siteId}', r.siteId);
    const bodyFor = async (method: string, p: string) => {
      if (method === 'PUT') return { body: bytes };
      if (p === '/v1/enroll')
        return { json: { token: (await issueToken(t, s2.id, 'Rejoin')).token } };
      if (p.endsWith('/enrollment-tokens')) return { json: { siteName: 'x' } };
      if (method === 'POST' && p === '/v1/studies') return { json: {} };
      if (method === 'POST') return { json: {} };
      return {};
    };
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.entries(methods).map(([m, op]) => ({ method: m.toUpperCase(), path: p, op })),
    );
    expect(ops.length).toBeGreaterThanOrEqual(20);
    // Before: the key is valid everywhere (whatever the route then answers, it is not a 401).
    const beforeStatus: Record<string, number> = {};
    for (const o of ops) {
      if (o.path === '/v1/enroll' || o.path.endsWith('/revoke')) continue; // would change state
      const res = await t.api(o.method, fill(o.path), {
        key: r.apiKey,
        ...(await bodyFor(o.method, o.path)),
      });
      beforeStatus[`${o.method} ${o.path}`] = res.status;
      expect(res.status, `${o.method} ${o.path} before revocation`).not.toBe(401);
    }
    const rev = await t.api('POST', `/v1/sites/${r.siteId}/revoke`, { key: t.adminKey });
    expect(rev.status).toBe(200);
    let tokenUnused: string | undefined;
    for (const o of ops) {
      const opts = await bodyFor(o.method, o.path);
      if (o.path === '/v1/enroll') tokenUnused = (opts as { json: { token: string } }).json.token;
      const res = await t.api(o.method, fill(o.path), { key: r.apiKey, ...opts });
      figures.checks++;
      if (o.op.security.length === 0) {
        expect(res.status, `${o.method} ${o.path} needs no key`).toBe(200);
        continue;
      }
      figures.revokedRoutes401++;
      expect(res.status, `${o.method} ${o.path} after revocation`).toBe(401);
      expect(errorOf(res).code, `${o.method} ${o.path}`).toBe('invalid_api_key');
      expect(res.headers.get('www-authenticate')).toContain('invalid_token');
    }
    expect(figures.revokedRoutes401).toBeGreaterThanOrEqual(18);
    // The revoked key's attempt to join study 2 did not consume the token (it was refused before).
    const fresh = await t.api('POST', '/v1/enroll', { json: { token: tokenUnused } });
    expect(fresh.status).toBe(201);
    expect((fresh.json as { siteId: string }).siteId).not.toBe(r.siteId);
    // The revoked site was not added to study 2, and the other sites keep working.
    const s2Sites = await t.api('GET', `/v1/studies/${s2.id}`, { key: t.adminKey });
    expect((s2Sites.json as { sites: { id: string }[] }).sites.map((s) => s.id)).not.toContain(
      r.siteId,
    );
    expect((await t.api('GET', `/v1/studies/${s1.id}/packages`, { key: a.apiKey })).status).toBe(
      200,
    );
    expect((await t.api('GET', `/v1/studies/${s1.id}/packages`, { key: b.apiKey })).status).toBe(
      200,
    );
    // Revoking twice is harmless and keeps the first revocation time.
    const again = await t.api('POST', `/v1/sites/${r.siteId}/revoke`, { key: t.adminKey });
    expect((again.json as { revokedAt: string }).revokedAt).toBe(
      (rev.json as { revokedAt: string }).revokedAt,
    );
    expect(Object.keys(beforeStatus).length).toBeGreaterThanOrEqual(17);
  });

  it('admin routes refuse site keys (403), anonymous callers, unknown and malformed keys (401), with no side effect', async () => {
    const adminOps = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => JSON.stringify(op.security) === JSON.stringify([{ adminKey: [] }]))
        .map(([m]) => ({ method: m.toUpperCase(), path: p })),
    );
    expect(adminOps.map((o) => `${o.method} ${o.path}`).sort()).toEqual(
      [
        'POST /v1/rounds/{roundId}/run',
        'POST /v1/sites/{siteId}/revoke',
        'POST /v1/studies',
        'POST /v1/studies/{studyId}/enrollment-tokens',
        'POST /v1/studies/{studyId}/rounds',
        'GET /v1/studies/{studyId}/sites',
        'POST /v1/studies/{studyId}/sites/{siteId}/enrollment-tokens',
      ].sort(),
    );
    const count = async (sql: string) => (await storeSql(t.server.store).get<{ n: number }>(sql))!.n;
    const state = async () => ({
      studies: await count('SELECT COUNT(*) AS n FROM studies'),
      tokens: await count('SELECT COUNT(*) AS n FROM enrollment_tokens'),
      rounds: await count('SELECT COUNT(*) AS n FROM rounds'),
      revoked: await count('SELECT COUNT(*) AS n FROM sites WHERE revoked_at IS NOT NULL'),
    });
    const before = await state();
    const credentials: {
      name: string;
      headers: Record<string, string>;
      status: number;
      code: string;
    }[] = [
      {
        name: 'site key',
        headers: { authorization: `Bearer ${a.apiKey}` },
        status: 403,
        code: 'admin_only',
      },
      { name: 'anonymous', headers: {}, status: 401, code: 'unauthorized' },
      {
        name: 'unknown key',
        headers: { authorization: `Bearer fgl_admin_${'A'.repeat(43)}` },
        status: 401,
        code: 'invalid_api_key',
      },
      {
        name: 'admin key + 1 char',
        headers: { authorization: `Bearer ${t.adminKey}x` },
        status: 401,
        code: 'invalid_api_key',
      },
      {
        name: 'admin key truncated',
        headers: { authorization: `Bearer ${t.adminKey.slice(0, -1)}` },
        status: 401,
        code: 'invalid_api_key',
      },
      {
        name: 'Basic scheme',
        headers: {
          authorization: `Basic ${Buffer.from(`admin:${t.adminKey}`).toString('base64')}`,
        },
        status: 401,
        code: 'unauthorized',
      },
      {
        name: 'two tokens',
        headers: { authorization: `Bearer ${a.apiKey} ${t.adminKey}` },
        status: 401,
        code: 'unauthorized',
      },
      {
        name: 'empty bearer',
        headers: { authorization: 'Bearer ' },
        status: 401,
        code: 'unauthorized',
      },
    ];
    for (const o of adminOps) {
      const p = o.path
        .replace('{studyId}', s1.id)
        .replace('{roundId}', roundOf[s1.id]!)
        .replace('{siteId}', b.siteId);
      const json =
        p === '/v1/studies'
          ? {
              ...((await t.api('GET', `/v1/studies/${s1.id}/manifest`, { key: t.adminKey }))
                .json as object),
              id: undefined,
              createdAt: undefined,
              name: 'Injected',
            }
          : p.endsWith('/enrollment-tokens')
            ? { siteName: 'Injected' }
            : {};
      for (const cred of credentials) {
        const res = await t.api(o.method, p, {
          ...(o.method === 'GET' ? {} : { json }),
          headers: cred.headers,
        });
        figures.checks++;
        figures.adminRouteCredentialPairs++;
        expect(errorOf(res), `${o.method} ${o.path} with ${cred.name}`).toMatchObject({
          status: cred.status,
          code: cred.code,
        });
      }
    }
    expect(await state()).toEqual(before);
    // Site B was never revoked by any of those attempts.
    expect((await t.api('GET', '/v1/studies', { key: b.apiKey })).status).toBe(200);
    // The one site-only route refuses the admin key (the admin must not upload as a site).
    const asAdmin = await put(t.adminKey, s1, buildPackage(s1, a.siteId, { seed: 77 }));
    expect(errorOf(asAdmin)).toMatchObject({ status: 403, code: 'site_only' });
    figures.checks++;
  });
});
