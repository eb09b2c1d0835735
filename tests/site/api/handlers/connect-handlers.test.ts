import { describe, expect, it } from 'vitest';
import { connectHandlers } from '../../../../src/site/api/handlers/connect-handlers';
import { issueToken } from '../../../helpers/server-fixture';
import { useSiteAndServer } from '../../../helpers/site-context-fixture';

const s = useSiteAndServer();

describe('connect handlers', () => {
  it('enrolls with a token, pins the key and lists the study from the server', async () => {
    const h = connectHandlers(s.f.c);
    const { token } = await issueToken(s.t, s.study.id, 'St Elsewhere');
    const r = await s.f.call(h, 'connect.enroll', { serverUrl: s.t.url, token });
    expect(r.ok).toBe(true);
    const data = (r as { data: { serverKeyFingerprint: string; studies: string[]; tlsCaFingerprint: string | null } }).data;
    expect(data.studies).toEqual([s.study.id]);
    expect(data.serverKeyFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(data.tlsCaFingerprint).toBeNull();
    expect(s.f.c.ledger.enrollments.list()).toHaveLength(1);
    expect(await s.f.call(h, 'studies.list', {})).toEqual({
      ok: true,
      data: { studies: [{ id: s.study.id, name: s.study.name, classes: s.study.classes, k: s.study.privacy.k, maxEpsilon: s.study.privacy.maxEpsilon, allowInstance: s.study.privacy.allowInstance }] },
    });
  });

  it('refuses a fingerprint that does not match and stores nothing', async () => {
    const h = connectHandlers(s.f.c);
    const { token } = await issueToken(s.t, s.study.id, 'St Typo');
    const r = await s.f.call(h, 'connect.enroll', { serverUrl: s.t.url, token, expectFingerprint: '00'.repeat(32) });
    expect(r).toMatchObject({ ok: false, error: { message: expect.stringContaining('does not match') } });
    expect(s.f.c.ledger.enrollments.list()).toEqual([]);
    expect(await s.f.call(h, 'studies.list', {})).toEqual({ ok: true, data: { studies: [] } });
  });
});
