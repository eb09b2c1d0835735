import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnrollResponse } from '../../../src/shared/server-api';
import { publicKeyFingerprint } from '../../../src/server/auth/server-signing-key';
import {
  createStudy,
  enrollSite,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { storeSql } from '../../helpers/store-sql';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)('enrollment and API keys over HTTP (%s store)', (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(await stores.options(engine));
  }, 90_000);
  afterAll(async () => {
    await t.close();
  });

  it('enrolls a site with a one-time token and returns a working key and the pinned server key', async () => {
    const study = await createStudy(t);
    const tok = await issueToken(t, study.id, 'General Hospital');
    expect(tok.serverKeyFingerprint).toBe(t.server.signingKey.fingerprint);
    const res = await t.api('POST', '/v1/enroll', { json: { token: tok.token } });
    expect(res.status).toBe(201);
    const body = res.json as EnrollResponse;
    expect(body.siteId).toMatch(/^site-/);
    expect(body.siteName).toBe('General Hospital');
    expect(body.apiKey).toEqual(expect.any(String));
    expect(body.studies).toEqual([study.id]);
    // The PEM the site pins hashes to the fingerprint the coordinator gave out of band.
    expect(publicKeyFingerprint(body.serverPublicKey)).toBe(tok.serverKeyFingerprint);

    const list = await t.api('GET', '/v1/studies', { key: body.apiKey! });
    expect(list.status).toBe(200);
    expect((list.json as { studies: { id: string }[] }).studies.map((s) => s.id)).toEqual([
      study.id,
    ]);
    // Only the hash of the key is stored.
    const rows = await storeSql(t.server.store).all<{
      key_sha256: string;
    }>('SELECT key_sha256 FROM api_keys');
    expect(JSON.stringify(rows)).not.toContain(body.apiKey!);
  });

  it('refuses a token a second time (410) and an unknown token (401)', async () => {
    const study = await createStudy(t);
    const tok = await issueToken(t, study.id, 'Clinic');
    expect((await t.api('POST', '/v1/enroll', { json: { token: tok.token } })).status).toBe(201);
    const again = await t.api('POST', '/v1/enroll', { json: { token: tok.token } });
    expect(again.status).toBe(410);
    expect(again.json).toMatchObject({
      error: { code: 'enrollment_token_used', hint: expect.any(String) },
    });
    const bogus = await t.api('POST', '/v1/enroll', {
      json: { token: 'fgl_enroll_' + 'x'.repeat(43) },
    });
    expect(bogus.status).toBe(401);
    expect(bogus.json).toMatchObject({ error: { code: 'enrollment_token_invalid' } });
  });

  it('refuses an expired token (410) and creates no site', async () => {
    const study = await createStudy(t);
    const tok = await issueToken(t, study.id, 'Late Lab', 60);
    const sitesBefore = await storeSql(t.server.store).get('SELECT COUNT(*) AS n FROM sites');
    t.advanceClock(61_000);
    const res = await t.api('POST', '/v1/enroll', { json: { token: tok.token } });
    expect(res.status).toBe(410);
    expect(res.json).toMatchObject({
      error: {
        code: 'enrollment_token_expired',
        hint: expect.stringContaining('new enrollment token'),
      },
    });
    expect(await storeSql(t.server.store).get('SELECT COUNT(*) AS n FROM sites')).toEqual(sitesBefore);
  });

  it('lets only one of many concurrent redemptions of a token succeed', async () => {
    const study = await createStudy(t);
    const tok = await issueToken(t, study.id, 'Racer');
    const results = await Promise.all(
      Array.from({ length: 8 }, () => t.api('POST', '/v1/enroll', { json: { token: tok.token } })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 410)).toHaveLength(7);
  });

  it('admin endpoints refuse site keys (403) and anonymous callers (401)', async () => {
    const study = await createStudy(t);
    const site = await enrollSite(t, study.id, 'Nosy Site');
    const asSite = await t.api('POST', '/v1/studies', { key: site.apiKey, json: {} });
    expect(asSite.status).toBe(403);
    expect(asSite.json).toMatchObject({ error: { code: 'admin_only' } });
    const token = await t.api('POST', `/v1/studies/${study.id}/enrollment-tokens`, {
      key: site.apiKey,
      json: { siteName: 'x' },
    });
    expect(token.status).toBe(403);
    const rounds = await t.api('POST', `/v1/studies/${study.id}/rounds`, {
      key: site.apiKey,
      json: {},
    });
    expect(rounds.status).toBe(403);
    const revoke = await t.api('POST', `/v1/sites/${site.siteId}/revoke`, { key: site.apiKey });
    expect(revoke.status).toBe(403);
    const anon = await t.api('GET', '/v1/studies');
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await t.api('GET', '/v1/studies', { key: 'fgl_site_not-a-key' });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('a revoked site key stops working at once', async () => {
    const study = await createStudy(t);
    const site = await enrollSite(t, study.id, 'Leaver');
    expect((await t.api('GET', '/v1/studies', { key: site.apiKey })).status).toBe(200);
    const rev = await t.api('POST', `/v1/sites/${site.siteId}/revoke`, { key: t.adminKey });
    expect(rev.status).toBe(200);
    expect(rev.json).toMatchObject({ siteId: site.siteId, keysRevoked: 1 });
    expect((await t.api('GET', '/v1/studies', { key: site.apiKey })).status).toBe(401);
  });

  it('an enrolled site joins a second study with its own key and keeps it', async () => {
    const a = await createStudy(t, { name: 'Study A' });
    const b = await createStudy(t, { name: 'Study B' });
    const site = await enrollSite(t, a.id, 'Multi');
    const tok = await issueToken(t, b.id, 'Multi');
    const res = await t.api('POST', '/v1/enroll', { key: site.apiKey, json: { token: tok.token } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      siteId: site.siteId,
      apiKey: null,
      studies: [a.id, b.id].sort(),
    });
    const list = await t.api('GET', '/v1/studies', { key: site.apiKey });
    expect((list.json as { studies: { id: string }[] }).studies.map((s) => s.id).sort()).toEqual(
      [a.id, b.id].sort(),
    );
  });

  it('validates bodies with a clear 400', async () => {
    const res = await t.api('POST', '/v1/studies', {
      key: t.adminKey,
      json: { name: 'x', classes: ['only-one'] },
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      error: { code: 'invalid_request', message: expect.stringContaining('classes') },
    });
    const notJson = await t.api('POST', '/v1/enroll', {
      body: new TextEncoder().encode('{oops'),
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
    expect((notJson.json as { error: { code: string } }).error.code).toMatch(/^[a-z0-9_]+$/);
    const missing = await t.api('GET', '/v1/nope');
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: { code: 'route_not_found' } });
  });
});
