import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditHandlers } from '../../../../src/site/api/handlers/audit-handlers';
import { seedPackage, siteContextFixture, type SiteContextFixture } from '../../../helpers/site-context-fixture';

let f: SiteContextFixture;
beforeEach(async () => void (f = await siteContextFixture()));
afterEach(() => f.close());

describe('audit handlers', () => {
  it('lists uploads newest first and searches them', async () => {
    const h = auditHandlers(f.c);
    expect(await f.call(h, 'audit.list', {})).toEqual({ ok: true, data: { entries: [] } });
    seedPackage(f.c.ledger, { sha256: 'a'.repeat(64) });
    seedPackage(f.c.ledger, { sha256: 'b'.repeat(64) });
    f.c.ledger.uploads.insert({ packageSha256: 'a'.repeat(64), bytes: 10, serverUrl: 'https://one', studyId: 's1', approvers: ['Dr A'], status: 'accepted' });
    f.c.ledger.uploads.insert({ packageSha256: 'b'.repeat(64), bytes: 20, serverUrl: 'https://two', studyId: 's2', approvers: ['Dr B', 'Dr C'] });
    const all = await f.call(h, 'audit.list', {});
    expect(all).toMatchObject({ ok: true, data: { entries: [{ studyId: 's2', status: 'pending', approvers: ['Dr B', 'Dr C'] }, { studyId: 's1', status: 'accepted' }] } });
    expect(await f.call(h, 'audit.list', { search: 'Dr A' })).toMatchObject({ ok: true, data: { entries: [{ packageSha256: 'a'.repeat(64), bytes: 10, server: 'https://one' }] } });
  });
});
