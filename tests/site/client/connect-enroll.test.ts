import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchSiteCall } from '../../../src/site/api/dispatch-site-call';
import { createSiteHandlers } from '../../../src/site/api/site-handlers';
import {
  createStudy,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';

/*
 * The UI's connect flow (the `connect.enroll` handler the Connect screen calls) is two-phase too:
 * a mistyped fingerprint is refused with its own error code and the token still works after.
 */
describe('connect.enroll (the UI connect flow) on loopback', () => {
  let t: TestServer;
  let home: string;
  beforeAll(async () => {
    t = await startTestServer();
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-connect-'));
  });
  afterAll(async () => {
    await t?.close();
    await fs.rm(home, { recursive: true, force: true });
  });

  it('refuses a mistyped fingerprint without using the token, then enrolls with the right one', async () => {
    const study = await createStudy(t);
    const { token } = await issueToken(t, study.id, 'UI Hospital');
    const site = createSiteHandlers({
      home,
      resolveModels: () => Promise.reject(new Error('no models needed')),
    });
    const ctx = { signal: new AbortController().signal, emit: () => undefined };
    try {
      const fp = t.server.signingKey.fingerprint;
      const typo = (fp[0] === 'a' ? 'b' : 'a') + fp.slice(1);
      const bad = await dispatchSiteCall(
        site.handlers,
        'connect.enroll',
        { serverUrl: t.url, token, expectFingerprint: typo },
        ctx,
      );
      expect(bad.result).toMatchObject({ ok: false, error: { code: 'fingerprint_mismatch' } });
      expect(!bad.result.ok && bad.result.error.message).toContain('NOT used');
      expect(await t.server.store.sites.ofStudy(study.id)).toEqual([]);
      const good = await dispatchSiteCall(
        site.handlers,
        'connect.enroll',
        { serverUrl: t.url, token, expectFingerprint: fp },
        ctx,
      );
      expect(good.result).toMatchObject({
        ok: true,
        data: { serverKeyFingerprint: fp, studies: [study.id] },
      });
    } finally {
      site.close();
    }
  });
});
