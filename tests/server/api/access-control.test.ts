import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import {
  buildPackage,
  createStudy,
  enrollSite,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)(
  'a site sees only its studies and its own packages (%s store)',
  (engine) => {
    describe('a site sees only its studies and its own packages', () => {
      let t: TestServer;
      let shared: StudyManifest;
      let other: StudyManifest;
      let a: { siteId: string; apiKey: string };
      let b: { siteId: string; apiKey: string };
      let pkgA: string;
      let pkgB: string;

      beforeAll(async () => {
        t = await startTestServer(await stores.options(engine));
        shared = await createStudy(t, { name: 'Shared' });
        other = await createStudy(t, { name: 'Other' });
        a = await enrollSite(t, shared.id, 'Site A');
        b = await enrollSite(t, shared.id, 'Site B');
        await enrollSite(t, other.id, 'Site C');
        const bytesA = buildPackage(shared, a.siteId);
        const bytesB = buildPackage(shared, b.siteId, { seed: 2 });
        pkgA = sha256Hex(bytesA);
        pkgB = sha256Hex(bytesB);
        expect(
          (
            await t.api('PUT', `/v1/studies/${shared.id}/packages/${pkgA}`, {
              key: a.apiKey,
              body: bytesA,
            })
          ).status,
        ).toBe(201);
        expect(
          (
            await t.api('PUT', `/v1/studies/${shared.id}/packages/${pkgB}`, {
              key: b.apiKey,
              body: bytesB,
            })
          ).status,
        ).toBe(201);
      });
      afterAll(async () => {
        await t.close();
      });

      it("lists only the caller site's packages; the admin sees all", async () => {
        const la = await t.api('GET', `/v1/studies/${shared.id}/packages`, { key: a.apiKey });
        expect(
          (la.json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256),
        ).toEqual([pkgA]);
        const lb = await t.api('GET', `/v1/studies/${shared.id}/packages`, { key: b.apiKey });
        expect(
          (lb.json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256),
        ).toEqual([pkgB]);
        const all = await t.api('GET', `/v1/studies/${shared.id}/packages`, { key: t.adminKey });
        expect(
          (all.json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256).sort(),
        ).toEqual([pkgA, pkgB].sort());
        expect(all.text).not.toContain(t.server.layout.packagesDir);
      });

      it("answers 404 (not 403) for another site's package", async () => {
        const own = await t.api('GET', `/v1/studies/${shared.id}/packages/${pkgA}`, {
          key: a.apiKey,
        });
        expect(own.status).toBe(200);
        const theirs = await t.api('GET', `/v1/studies/${shared.id}/packages/${pkgB}`, {
          key: a.apiKey,
        });
        const absent = await t.api('GET', `/v1/studies/${shared.id}/packages/${'0'.repeat(64)}`, {
          key: a.apiKey,
        });
        expect(theirs.status).toBe(404);
        // Same answer as for a package that does not exist: existence does not leak.
        expect(theirs.json).toEqual({
          error: { ...(absent.json as { error: object }).error, message: expect.any(String) },
        });
      });

      it('answers 404 for every route of a study the site is not enrolled in', async () => {
        const paths = [
          `/v1/studies/${other.id}`,
          `/v1/studies/${other.id}/manifest`,
          `/v1/studies/${other.id}/packages`,
          `/v1/studies/${other.id}/rounds/latest`,
          `/v1/studies/${other.id}/models`,
          `/v1/studies/${other.id}/models/1/manifest.json`,
        ];
        for (const p of paths) {
          const res = await t.api('GET', p, { key: a.apiKey });
          expect(res.status, p).toBe(404);
          expect((res.json as { error: { code: string } }).error.code, p).toBe('study_not_found');
        }
        const bytes = buildPackage(other, a.siteId);
        const put = await t.api('PUT', `/v1/studies/${other.id}/packages/${sha256Hex(bytes)}`, {
          key: a.apiKey,
          body: bytes,
        });
        expect(put.status).toBe(404);
        const list = await t.api('GET', '/v1/studies', { key: a.apiKey });
        expect((list.json as { studies: { id: string }[] }).studies.map((s) => s.id)).toEqual([
          shared.id,
        ]);
      });

      it("shows a site only itself among a study's sites", async () => {
        const asA = await t.api('GET', `/v1/studies/${shared.id}`, { key: a.apiKey });
        expect((asA.json as { sites: { id: string }[] }).sites.map((s) => s.id)).toEqual([
          a.siteId,
        ]);
        const asAdmin = await t.api('GET', `/v1/studies/${shared.id}`, { key: t.adminKey });
        expect((asAdmin.json as { sites: { id: string }[] }).sites.map((s) => s.id).sort()).toEqual(
          [a.siteId, b.siteId].sort(),
        );
      });

      it("does not let a site upload another site's bytes (policy rejects; no existence leak)", async () => {
        const bytesB = buildPackage(shared, b.siteId, { seed: 2 });
        const res = await t.api('PUT', `/v1/studies/${shared.id}/packages/${pkgB}`, {
          key: a.apiKey,
          body: bytesB,
        });
        expect(res.status).toBe(422);
        expect(res.json).toMatchObject({ error: { code: 'package_wrong_site' } });
      });
    });
  },
);
