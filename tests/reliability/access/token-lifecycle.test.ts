import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAdminKey } from '../../../src/server/auth/admin-key';
import { secretHash } from '../../../src/server/auth/secret-token';
import { createServer, type FglServer } from '../../../src/server/create-server';
import type { EnrollmentTokenResponse, EnrollResponse } from '../../../src/shared/server-api';
import type { StudyManifest } from '../../../src/shared/study';
import { studyBody } from '../../helpers/server-fixture';
import { recordFigures } from '../../helpers/reliability-figures';
import { storeSql } from '../../helpers/store-sql';

/*
 * Enrollment tokens and keys over their whole life, against a server whose clock the test sets
 * exactly (no sleeping, no "about a minute later"): expiry to the millisecond, replays after a
 * success, credentials of one kind used as another, and the stored hashes used as credentials.
 */

const figures = { checks: 0, refusals: 0 };

describe('enrollment tokens and keys (reliability)', () => {
  const T0 = Date.parse('2030-01-01T00:00:00.000Z');
  let now = T0;
  let dataDir: string;
  let server: FglServer;
  let url: string;
  let adminKey: string;
  let study: StudyManifest;
  let other: StudyManifest;

  const call = async (
    method: string,
    p: string,
    o: { key?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: { error?: { code: string } } & Record<string, unknown> }> => {
    const headers: Record<string, string> = {};
    if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + p, {
      method,
      headers,
      ...(o.json !== undefined ? { body: JSON.stringify(o.json) } : {}),
    });
    figures.checks++;
    const body = (await res.json()) as { error?: { code: string } } & Record<string, unknown>;
    if (res.status >= 400) figures.refusals++;
    return { status: res.status, body };
  };
  const token = async (studyId: string, siteName: string, ttlSec?: number) => {
    const r = await call('POST', `/v1/studies/${studyId}/enrollment-tokens`, {
      key: adminKey,
      json: { siteName, ...(ttlSec !== undefined ? { ttlSec } : {}) },
    });
    expect(r.status).toBe(201);
    return r.body as unknown as EnrollmentTokenResponse;
  };
  const enroll = (tok: string, key?: string) =>
    call('POST', '/v1/enroll', { json: { token: tok }, ...(key !== undefined ? { key } : {}) });

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-tokens-'));
    server = await createServer({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      stages: null,
      clock: () => new Date(now),
      logger: { level: 'silent' },
    });
    url = await server.start();
    adminKey = await readAdminKey(server.layout.adminKey);
    for (const name of ['Token study', 'Other study']) {
      const r = await call('POST', '/v1/studies', { key: adminKey, json: studyBody({ name }) });
      expect(r.status).toBe(201);
      if (name === 'Token study') study = r.body as unknown as StudyManifest;
      else other = r.body as unknown as StudyManifest;
    }
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dataDir, { recursive: true, force: true });
    recordFigures('access.json', 'tokenLifecycle', figures);
  });

  it('a token is valid up to the millisecond before expiresAt and refused from expiresAt on', async () => {
    now = T0;
    const early = await token(study.id, 'Early', 3600);
    const late = await token(study.id, 'Late', 3600);
    expect(early.expiresAt).toBe(new Date(T0 + 3_600_000).toISOString());
    now = T0 + 3_600_000 - 1;
    expect((await enroll(early.token)).status).toBe(201);
    now = T0 + 3_600_000;
    const expired = await enroll(late.token);
    expect(expired.status).toBe(410);
    expect(expired.body.error?.code).toBe('enrollment_token_expired');
    // Still expired later, and moving the clock back for one request does not make it "used".
    now = T0 + 10 * 3_600_000;
    expect((await enroll(late.token)).body.error?.code).toBe('enrollment_token_expired');
    const row = (await storeSql(server.store).get<{ used_at: string | null }>(
      'SELECT used_at FROM enrollment_tokens WHERE token_sha256 = ?',
      secretHash(late.token),
    ))!;
    expect(row.used_at).toBeNull();
    now = T0;
  });

  it('a used token stays used: replayed anonymously, with another site key, or after the first site is revoked', async () => {
    const tok = await token(study.id, 'First');
    const first = await enroll(tok.token);
    expect(first.status).toBe(201);
    const firstSite = first.body as unknown as EnrollResponse;
    // Replayed as is.
    expect((await enroll(tok.token)).body.error?.code).toBe('enrollment_token_used');
    // Replayed by another enrolled site trying to join the study through it.
    const outsiderTok = await token(other.id, 'Outsider');
    const outsider = (await enroll(outsiderTok.token)).body as unknown as EnrollResponse;
    const viaKey = await enroll(tok.token, outsider.apiKey!);
    expect(viaKey.status).toBe(410);
    expect(viaKey.body.error?.code).toBe('enrollment_token_used');
    const list = await call('GET', '/v1/studies', { key: outsider.apiKey! });
    expect((list.body.studies as { id: string }[]).map((s) => s.id)).toEqual([other.id]);
    // Replayed after the site that used it was revoked: still used, no new site appears.
    const sites = async () =>
      (await storeSql(server.store).get<{ n: number }>('SELECT COUNT(*) AS n FROM sites'))!.n;
    expect(
      (await call('POST', `/v1/sites/${firstSite.siteId}/revoke`, { key: adminKey })).status,
    ).toBe(200);
    const n = await sites();
    expect((await enroll(tok.token)).body.error?.code).toBe('enrollment_token_used');
    expect(await sites()).toBe(n);
  });

  it('the admin key cannot redeem a token, and trying does not burn it', async () => {
    const tok = await token(study.id, 'Admin tried');
    const asAdmin = await enroll(tok.token, adminKey);
    expect(asAdmin.status).toBe(400);
    expect(asAdmin.body.error?.code).toBe('admin_cannot_enroll');
    expect((await enroll(tok.token)).status).toBe(201);
  });

  it('credentials are not interchangeable, and the stored hashes are not credentials', async () => {
    const tok = await token(study.id, 'Kinds');
    const unused = await token(study.id, 'Unused');
    const site = (await enroll(tok.token)).body as unknown as EnrollResponse;
    const key = site.apiKey!;
    expect((await call('GET', '/v1/studies', { key })).status).toBe(200);
    // A token is not a key; a key is not a token; the admin key is not a token.
    expect((await call('GET', '/v1/studies', { key: unused.token })).body.error?.code).toBe(
      'invalid_api_key',
    );
    expect((await enroll(key)).body.error?.code).toBe('enrollment_token_invalid');
    expect((await enroll(adminKey)).body.error?.code).toBe('enrollment_token_invalid');
    // What the database holds (sha256 of each secret) opens nothing: a leaked db is not a leaked key.
    expect((await call('GET', '/v1/studies', { key: secretHash(key) })).body.error?.code).toBe(
      'invalid_api_key',
    );
    expect((await call('GET', '/v1/studies', { key: secretHash(adminKey) })).body.error?.code).toBe(
      'invalid_api_key',
    );
    expect((await enroll(secretHash(unused.token))).body.error?.code).toBe(
      'enrollment_token_invalid',
    );
    // A key differing in one character, or in case, is a different key.
    const flipped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    expect((await call('GET', '/v1/studies', { key: flipped })).status).toBe(401);
    expect((await call('GET', '/v1/studies', { key: key.toUpperCase() })).status).toBe(401);
    // None of the refused attempts used the unused token up.
    expect((await enroll(unused.token)).status).toBe(201);
  });

  it('a token enrolls into its own study only', async () => {
    const tok = await token(study.id, 'Scoped');
    const site = (await enroll(tok.token)).body as unknown as EnrollResponse;
    expect(site.studies).toEqual([study.id]);
    const o = await call('GET', `/v1/studies/${other.id}`, { key: site.apiKey! });
    expect(o.status).toBe(404);
  });
});
