import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FromBackend, ToBackend } from '../../src/shared/backend-protocol';
import { pollUntil } from '../helpers/child-process';

// Electron's utilityProcess gives the child `process.parentPort`; this stands in for it (the one
// Electron piece mocked). Everything behind it — handlers, ledger, validation — is real.
const sent: FromBackend[] = [];
let deliver: ((e: { data: ToBackend }) => void) | undefined;
(process as unknown as { parentPort: unknown }).parentPort = {
  on: (_: 'message', l: (e: { data: ToBackend }) => void) => void (deliver = l),
  postMessage: (m: FromBackend) => void sent.push(m),
};
await import('../../src/main/site-backend');

const home = await mkdtemp(join(tmpdir(), 'fgl-backend-'));
afterAll(() => rm(home, { recursive: true, force: true }));

const until = <T>(pick: () => T | undefined): Promise<T> =>
  pollUntil(pick, { what: 'an answer from the backend', timeoutMs: 5_000, intervalMs: 10 });
const result = (id: number) => until(() => sent.find((m): m is Extract<FromBackend, { type: 'result' }> => m.type === 'result' && m.id === id)?.result);

describe('site backend utility process entry', () => {
  it('answers only after configure, then serves the real handlers with validation', async () => {
    deliver!({ data: { type: 'call', id: 1, method: 'settings.get', req: {} } });
    expect(await result(1)).toMatchObject({ ok: false, error: { code: 'backend_unavailable' } });
    deliver!({ data: { type: 'configure', home, keyEncryptionKey: null } });
    await until(() => sent.find((m) => m.type === 'ready'));
    deliver!({ data: { type: 'call', id: 2, method: 'settings.get', req: {} } });
    expect(await result(2)).toMatchObject({ ok: true, data: { dataHome: home, offline: true, siteId: null } });
    deliver!({ data: { type: 'call', id: 3, method: 'datasets.scan', req: { dir: 42 } } });
    expect(await result(3)).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    deliver!({ data: { type: 'call', id: 4, method: 'datasets.scan', req: { dir: join(home, 'missing') } } });
    expect(await result(4)).toMatchObject({ ok: false, error: { code: 'dataset_unreadable' } });
  });
  it('serves the audit log from the real ledger (empty on a new site)', async () => {
    deliver!({ data: { type: 'call', id: 5, method: 'audit.list', req: {} } });
    expect(await result(5)).toMatchObject({ ok: true, data: { entries: [] } });
  });
});
