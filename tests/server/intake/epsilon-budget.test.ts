/**
 * Attack (issue #12): a site (or anyone holding its key) uploads DP packages from the same images
 * again and again; each is within the study's per-package ε, so before the fix the server accepted
 * five packages at ε 0.8 — ε 4 in total — against a study budget of 2.
 */
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

describe.each(STORE_ENGINES)('ε budget across packages (%s store)', (engine) => {
  let t: TestServer;
  let study: StudyManifest;
  let other: StudyManifest;
  let key: string;
  let siteId: string;

  beforeAll(async () => {
    t = await startTestServer(await stores.options(engine));
    study = await createStudy(t, { name: 'Budget 2', privacy: { k: 3, maxEpsilon: 2 } });
    other = await createStudy(t, { name: 'Another study', privacy: { k: 3, maxEpsilon: 2 } });
    const site = await enrollSite(t, study.id, 'Repeater');
    key = site.apiKey;
    siteId = site.siteId;
    const tok = await t.api('POST', `/v1/studies/${other.id}/enrollment-tokens`, {
      key: t.adminKey,
      json: { siteName: 'Repeater' },
    });
    await t.api('POST', '/v1/enroll', {
      key,
      json: { token: (tok.json as { token: string }).token },
    });
  }, 60_000);
  afterAll(() => t.close());

  const upload = (s: StudyManifest, bytes: Uint8Array) =>
    t.api('PUT', `/v1/studies/${s.id}/packages/${sha256Hex(bytes)}`, { key, body: bytes });

  describe('server-side ε budget per site and study', () => {
    it('refuses the package that would take the site past the study budget, and says what is left', async () => {
      const statuses: number[] = [];
      let refusal = '';
      for (let i = 0; i < 5; i++) {
        const res = await upload(
          study,
          buildPackage(study, siteId, { seed: 100 + i, metadata: { dp_epsilon: 0.8 } }),
        );
        statuses.push(res.status);
        if (res.status !== 201) refusal ||= res.text;
      }
      const stored = (await t.server.store.packages.list(study.id, siteId)).length;
      console.log(
        `5 uploads at ε 0.8 against a budget of 2: statuses ${statuses.join(', ')}; stored ${stored} (ε ${(stored * 0.8).toFixed(1)})`,
      );
      expect(statuses).toEqual([201, 201, 422, 422, 422]);
      expect(refusal).toMatch(/epsilon_budget_exhausted/);
      expect(refusal).toMatch(/already accepted ε 1\.6 .* budget 2/);
      // The same bytes again are still a no-op, not a new charge.
      const again = await upload(
        study,
        buildPackage(study, siteId, { seed: 100, metadata: { dp_epsilon: 0.8 } }),
      );
      expect(again.status).toBe(200);
    });

    it('keeps each study’s budget separate', async () => {
      const res = await upload(
        other,
        buildPackage(other, siteId, { seed: 200, metadata: { dp_epsilon: 1.5 } }),
      );
      expect(res.status).toBe(201);
    });
  });
});
