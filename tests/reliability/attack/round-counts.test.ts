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
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14 finding 9: a site learned how many packages OTHER sites uploaded from the round
 * status. A site must see only its own count; the coordinator sees the total.
 */
describe("round status counts only the caller's packages (issue #14 finding 9)", () => {
  let t: TestServer;
  let study: StudyManifest;
  const figures: Record<string, number> = {};
  beforeAll(async () => {
    t = await startTestServer();
    study = await createStudy(t);
  });
  afterAll(async () => {
    recordFigures('attack', '#9 round counts per site', figures);
    await t?.close();
  });

  it('site A (1 package) sees 1, not the 3 that sites A and B uploaded together; admin sees 3', async () => {
    const a = await enrollSite(t, study.id, 'Site A');
    const b = await enrollSite(t, study.id, 'Site B');
    const upload = async (siteId: string, key: string, seed: number) => {
      const pkg = buildPackage(study, siteId, { seed });
      expect(
        (
          await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(pkg)}`, {
            key,
            body: pkg,
          })
        ).status,
      ).toBe(201);
    };
    await upload(a.siteId, a.apiKey, 1);
    await upload(b.siteId, b.apiKey, 2);
    await upload(b.siteId, b.apiKey, 3);
    const open = await t.api('POST', `/v1/studies/${study.id}/rounds`, {
      key: t.adminKey,
      json: { run: false },
    });
    expect(open.status).toBe(201);
    const roundId = (open.json as { round: { id: string } }).round.id;
    const seen = async (key: string, url: string) =>
      ((await t.api('GET', url, { key })).json as { packages: number }).packages;
    figures['site A sees (latest)'] = await seen(a.apiKey, `/v1/studies/${study.id}/rounds/latest`);
    figures['site A sees (by id)'] = await seen(a.apiKey, `/v1/rounds/${roundId}`);
    figures['site B sees (latest)'] = await seen(b.apiKey, `/v1/studies/${study.id}/rounds/latest`);
    figures['admin sees'] = await seen(t.adminKey, `/v1/studies/${study.id}/rounds/latest`);
    expect(figures).toEqual({
      'site A sees (latest)': 1,
      'site A sees (by id)': 1,
      'site B sees (latest)': 2,
      'admin sees': 3,
    });
  });
});
