import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupFingerprint as displayFingerprint } from '../../../src/shared/fingerprint';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { SiteClient } from '../../../src/site/client/site-client';
import { Ledger } from '../../../src/site/ledger/ledger';
import type { StudyManifest } from '../../../src/shared/study';
import { recordFigures } from '../reliability-figures';
import { type LoopbackServer, startLoopbackServer } from '../transport/tls-test-server';

/*
 * Issue #15 item 1 and issue #14 finding 6, on loopback against the real server:
 * - a fingerprint typo must not burn the one-time token (two-phase enrollment);
 * - re-enrolling at the same address with a DIFFERENT server key is refused unless the new
 *   fingerprint is given explicitly, and the error names the old and the new key;
 * - the coordinator lists, revokes and re-issues sites (admin API).
 */

const figures: Record<string, number | string> = {};
const WRONG = 'ab'.repeat(32);

describe('enrollment that forgives a typo and never swaps a pinned key silently', () => {
  let work: string;
  let a: LoopbackServer;
  let study: StudyManifest;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-attack-enroll-'));
    a = await startLoopbackServer({ dataDir: path.join(work, 'a') });
    study = await a.createStudy('Enroll study');
  });
  afterAll(async () => {
    recordFigures('attack', '#6 + #15.1 enrollment keys', figures);
    await a?.close();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('a wrong --expect-fingerprint refuses BEFORE the token is redeemed; the right one then works', async () => {
    const ledger = Ledger.open(':memory:');
    const token = await a.issueToken(study.id, 'Typo Hospital');
    const sitesBefore = (await a.server.store.sites.ofStudy(study.id)).length;
    const err = await enrollSite(ledger, a.url, token, { expectFingerprint: WRONG }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('does not match');
    // Nothing redeemed: no orphan site on the server, nothing stored at the site.
    expect((await a.server.store.sites.ofStudy(study.id)).length).toBe(sitesBefore);
    expect(ledger.enrollments.list()).toEqual([]);
    const ok = await enrollSite(ledger, a.url, token, {
      expectFingerprint: a.server.signingKey.fingerprint,
    });
    figures['typo then retry'] = 'enrolled';
    expect(ok.serverKeyFingerprint).toBe(a.server.signingKey.fingerprint);
    ledger.close();
  });

  it('the public key endpoint redeems nothing and needs no key', async () => {
    const info = await new SiteClient(a.url).serverKey();
    expect(info.serverKeyFingerprint).toBe(a.server.signingKey.fingerprint);
    expect(info.serverPublicKey).toBe(a.server.signingKey.publicKeyPem);
  });

  it('re-enrolling at the same address with a different server key is refused unless the new fingerprint is expected', async () => {
    const ledger = Ledger.open(':memory:');
    await enrollSite(ledger, a.url, await a.issueToken(study.id, 'Moving Hospital'));
    const oldFp = a.server.signingKey.fingerprint;
    // Same address, a different server (its own signing key): an impostor, or a rebuilt server.
    const port = Number(new URL(a.url).port);
    await a.close();
    const b = await startLoopbackServer({ dataDir: path.join(work, 'b'), port });
    try {
      const studyB = await b.createStudy('Rebuilt study');
      const newFp = b.server.signingKey.fingerprint;
      expect(newFp).not.toBe(oldFp);
      const token = await b.issueToken(studyB.id, 'Moving Hospital');
      const err = await enrollSite(ledger, b.url, token).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      const msg = (err as Error).message;
      figures['plain re-enroll with a new server key'] = 'refused';
      expect(msg).toContain(displayFingerprint(oldFp));
      expect(msg).toContain(displayFingerprint(newFp));
      expect((err as Error & { hint?: string }).hint).toContain('--expect-fingerprint');
      // The pinned key is unchanged and the token is still good.
      expect(ledger.enrollments.list().map((e) => e.serverKeyFingerprint)).toEqual([oldFp]);
      const ok = await enrollSite(ledger, b.url, token, { expectFingerprint: newFp });
      expect(ok.serverKeyFingerprint).toBe(newFp);
      figures['re-enroll with --expect-fingerprint NEW'] = 'enrolled';
    } finally {
      await b.close();
      a = await startLoopbackServer({ dataDir: path.join(work, 'a') });
    }
    ledger.close();
  });

  it('the coordinator lists, revokes and re-issues a site; the revoked key gets 401, the re-issued token a new key', async () => {
    const ledger = Ledger.open(':memory:');
    const e = await enrollSite(ledger, a.url, await a.issueToken(study.id, 'Lost Laptop Hospital'));
    const key = Buffer.from(ledger.enrollments.list()[0]!.apiKey).toString('utf8');
    const list = await a.api('GET', `/v1/studies/${study.id}/sites`, { key: a.adminKey });
    expect(list.status).toBe(200);
    const row = (
      list.json as { sites: { siteId: string; state: string; packages: number }[] }
    ).sites.find((s) => s.siteId === e.siteId);
    expect(row).toMatchObject({ state: 'active', packages: 0 });

    expect((await a.api('GET', `/v1/studies/${study.id}/manifest`, { key })).status).toBe(200);
    expect((await a.api('POST', `/v1/sites/${e.siteId}/revoke`, { key: a.adminKey })).status).toBe(
      200,
    );
    expect((await a.api('GET', `/v1/studies/${study.id}/manifest`, { key })).status).toBe(401);
    const after = await a.api('GET', `/v1/studies/${study.id}/sites`, { key: a.adminKey });
    expect(
      (after.json as { sites: { siteId: string; state: string }[] }).sites.find(
        (s) => s.siteId === e.siteId,
      )?.state,
    ).toBe('revoked');

    const re = await a.api('POST', `/v1/studies/${study.id}/sites/${e.siteId}/enrollment-tokens`, {
      key: a.adminKey,
      json: {},
    });
    expect(re.status).toBe(201);
    const fresh = Ledger.open(':memory:');
    const again = await enrollSite(fresh, a.url, (re.json as { token: string }).token);
    expect(again.siteId).toBe(e.siteId);
    const newKey = Buffer.from(fresh.enrollments.list()[0]!.apiKey).toString('utf8');
    expect((await a.api('GET', `/v1/studies/${study.id}/manifest`, { key: newKey })).status).toBe(
      200,
    );
    expect((await a.api('GET', `/v1/studies/${study.id}/manifest`, { key })).status).toBe(401);
    figures['revoked key after revoke'] = 401;
    figures['re-issued token'] = 'new key, same site id';
    ledger.close();
    fresh.close();
  });
});
