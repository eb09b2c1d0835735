import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleData } from '../../../../src/cli/sample-data/make-sample-data';
import { buildStudyManifest } from '../../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../../src/cli/study/models-folder';
import type { StudyManifest } from '../../../../src/shared/study';
import type { SiteCallResult, SiteEvent } from '../../../../src/shared/site-api';
import { createSiteHandlers } from '../../../../src/site/api/site-handlers';
import { dispatchSiteCall } from '../../../../src/site/api/dispatch-site-call';
import { enrollSite } from '../../../../src/site/client/enroll-site';
import { issueToken, startTestServer, type TestServer } from '../../../helpers/server-fixture';
import { getTinyModels, type TinyModels } from '../../../helpers/tiny-models';
import { pollUntil } from '../../../helpers/child-process';

let t: TestServer;
let tiny: TinyModels;
let study: StudyManifest;
let dataDir: string;
let home: string;
beforeAll(async () => {
  tiny = await getTinyModels();
  t = await startTestServer();
  home = await mkdtemp(join(tmpdir(), 'fgl-site-restart-'));
  const data = await makeSampleData(join(home, 'data'), { classes: 2, perClass: 4, seed: 3, size: 32 });
  dataDir = data.dir;
  const { id: _id, createdAt: _c, ...body } = buildStudyManifest({ name: 'Persistence', classes: data.classes, models: await describeModelsFolder(tiny.root), k: 2 });
  study = (await t.api('POST', '/v1/studies', { key: t.adminKey, json: body })).json as StudyManifest;
}, 120_000);
afterAll(async () => {
  await t.close();
  await rm(home, { recursive: true, force: true });
});

/** One backend process's worth of site handlers over the site's real ledger file. */
function backend() {
  const b = createSiteHandlers({ home, resolveModels: async () => ({ ...tiny.dirs, tiny: true }) });
  const events: SiteEvent[] = [];
  const call = async (method: string, req: unknown, signal = new AbortController().signal): Promise<SiteCallResult> =>
    (await dispatchSiteCall(b.handlers, method, req, { signal, emit: (e) => void events.push(e) })).result;
  return { b, events, call };
}
const data = <T>(r: SiteCallResult) => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.data as T;
};
type Listed = { packages: { runId: string; state: string; upload: { status: string } | null }[] };

describe('prepared packages survive a reload and a restart (issue #15 item 2)', () => {
  it('lists each package with its state; approve, retry and preview work from a new backend', async () => {
    const first = backend();
    const { token } = await issueToken(t, study.id, 'restart site');
    await enrollSite(first.b.ledger, t.url, token);
    const { runId } = data<{ runId: string }>(await first.call('prepare.start', { dataDir, studyId: study.id, promptMode: 'class', aggregation: 'class' }));
    await pollUntil(() => first.events.find((e) => e.type === 'job-finished' && e.job === runId), { what: `${runId} to finish`, timeoutMs: 30_000, intervalMs: 50 });
    expect(first.events.find((e) => e.type === 'job-finished')).toMatchObject({ ok: true });
    // Give the local-images note a moment to be written beside the package.
    await new Promise((r) => setTimeout(r, 50));
    expect(data<Listed>(await first.call('packages.list', {})).packages).toEqual([expect.objectContaining({ runId, state: 'prepared', upload: null, studyId: study.id })]);

    // The operator approves, and the app is closed before the upload goes through.
    const closing = new AbortController();
    closing.abort(new Error('app closed'));
    expect((await first.call('upload.approve', { runId, approver: 'Dr Steward', confirm: true }, closing.signal)).ok).toBe(false);
    expect(data<Listed>(await first.call('packages.list', {})).packages[0]).toMatchObject({ runId, state: 'approved', upload: { status: 'pending' } });
    first.b.close();

    // A new backend (restart): the package, its preview, thumbnails and the pending upload are all there.
    const second = backend();
    try {
      expect(data<Listed>(await second.call('packages.list', {})).packages[0]).toMatchObject({ runId, state: 'approved' });
      const preview = data<{ sha256: string; projection: { local: { imageId: number }[] } }>(await second.call('prepare.preview', { runId }));
      expect(data<{ dataUrl: string }>(await second.call('images.thumbnail', { runId, imageId: preview.projection.local[0]!.imageId })).dataUrl).toMatch(/^data:image\/png;base64,/);
      expect(await second.call('upload.approve', { runId, approver: 'Someone Else', confirm: true })).toMatchObject({ ok: false, error: { code: 'already_approved' } });
      expect(data<{ status: string; approvers: string[] }>(await second.call('upload.resume', { runId }))).toMatchObject({ status: 'accepted', approvers: ['Dr Steward'] });
      expect(data<Listed>(await second.call('packages.list', {})).packages[0]).toMatchObject({ runId, state: 'uploaded', upload: { status: 'accepted' } });
      expect(await second.call('upload.resume', { runId })).toMatchObject({ ok: false, error: { code: 'nothing_to_resume', hint: 'It was uploaded already.' } });
      expect(second.b.ledger.uploads.list()).toHaveLength(1);
      const stored = await t.api('GET', `/v1/studies/${study.id}/packages`, { key: t.adminKey });
      expect((stored.json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256)).toEqual([preview.sha256]);
    } finally {
      second.b.close();
    }
  }, 120_000);
});
