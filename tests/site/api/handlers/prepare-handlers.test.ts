import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prepareHandlers } from '../../../../src/site/api/handlers/prepare-handlers';
import { makeSampleData } from '../../../../src/cli/sample-data/make-sample-data';
import { buildStudyManifest } from '../../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../../src/cli/study/models-folder';
import type { StudyManifest } from '../../../../src/shared/study';
import type { PackagePreview, SiteEvent } from '../../../../src/shared/site-api';
import { startTestServer, type TestServer } from '../../../helpers/server-fixture';
import { getTinyModels, type TinyModels } from '../../../helpers/tiny-models';
import { pollUntil } from '../../../helpers/child-process';
import { enrollFixture, siteContextFixture, type SiteContextFixture } from '../../../helpers/site-context-fixture';

let t: TestServer;
let tiny: TinyModels;
let study: StudyManifest;
let dataDir: string;
beforeAll(async () => {
  tiny = await getTinyModels();
  t = await startTestServer();
  const data = await makeSampleData(join(t.dataDir, 'site-data'), { classes: 2, perClass: 4, seed: 1, size: 32 });
  dataDir = data.dir;
  const { id: _id, createdAt: _c, ...body } = buildStudyManifest({ name: 'Prepare handlers', classes: data.classes, models: await describeModelsFolder(tiny.root), k: 2 });
  const res = await t.api('POST', '/v1/studies', { key: t.adminKey, json: body });
  study = res.json as StudyManifest;
}, 120_000);
afterAll(() => t.close());

let f: SiteContextFixture;
beforeEach(async () => void (f = await siteContextFixture({ resolveModels: async () => ({ ...tiny.dirs, tiny: true }) })));
afterEach(() => f.close());

const finished = (events: SiteEvent[], job: string) =>
  pollUntil(() => events.find((x): x is Extract<SiteEvent, { type: 'job-finished' }> => x.type === 'job-finished' && x.job === job), {
    what: `${job} to finish`,
    timeoutMs: 60_000,
    intervalMs: 20,
  });

describe('prepare handlers', () => {
  it('prepares a package, previews it with thumbnails, and uploads it on approval', async () => {
    await enrollFixture(f, t, study.id);
    const h = prepareHandlers(f.c);
    const started = await f.call(h, 'prepare.start', { dataDir, studyId: study.id, promptMode: 'class', aggregation: 'class' });
    expect(started.ok).toBe(true);
    const runId = (started as { data: { runId: string } }).data.runId;
    expect(await finished(f.events, runId)).toMatchObject({ ok: true });
    const preview = await f.call(h, 'prepare.preview', { runId });
    expect(preview).toMatchObject({ ok: true, data: { runId, epsilon: null, uploaded: null, dims: { tokens: 77 } } });
    const p = (preview as { data: PackagePreview }).data;
    expect(p.rows.map((r) => r.label).sort()).toEqual([...study.classes].sort());
    expect(p.reportMarkdown).toContain('#');
    const thumb = await f.call(h, 'images.thumbnail', { runId, imageId: p.projection.local[0]!.imageId });
    expect(thumb).toMatchObject({ ok: true, data: { dataUrl: expect.stringMatching(/^data:image\/png;base64,/) } });
    const up = await f.call(h, 'upload.approve', { runId, approver: 'Dr Data Steward', confirm: true });
    expect(up).toMatchObject({ ok: true, data: { packageSha256: p.sha256, status: 'accepted', approvers: ['Dr Data Steward'] } });
    expect(await f.call(h, 'prepare.preview', { runId })).toMatchObject({ ok: true, data: { uploaded: { status: 'accepted' } } });
    // A file changed after preparing: the thumbnail says so in words, never libvips' own error.
    const img = p.projection.local[0]!;
    const j = (await f.c.job(runId)).result!;
    await writeFile(join(j.dataRoot, ...j.localImages[img.imageId]!.path.split('/')), 'no longer an image');
    const broken = await f.call(h, 'images.thumbnail', { runId, imageId: img.imageId });
    expect(broken).toMatchObject({ ok: false, error: { code: 'thumbnail_unavailable', message: expect.stringMatching(/^No thumbnail: .* could not be decoded for a preview\.$/) } });
    expect(JSON.stringify(broken)).not.toMatch(/vips|VipsForeign|unsupported image format/i);
  }, 120_000);

  it('refuses a run it does not know, and a study it is not enrolled in', async () => {
    const h = prepareHandlers(f.c);
    expect(await f.call(h, 'prepare.preview', { runId: 'nope' })).toMatchObject({ ok: false, error: { code: 'not_found', hint: 'Choose one from the list of prepared packages, or prepare a new one.' } });
    expect(await f.call(h, 'upload.approve', { runId: 'nope', approver: 'A', confirm: true })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const r = await f.call(h, 'prepare.start', { dataDir, studyId: 'no-such-study', promptMode: 'class', aggregation: 'class' });
    expect(r).toMatchObject({ ok: false, error: { message: expect.stringContaining('no-such-study') } });
  });
});
