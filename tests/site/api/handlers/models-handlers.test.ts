import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsHandlers } from '../../../../src/site/api/handlers/models-handlers';
import { createStudy, publishTestModel } from '../../../helpers/server-fixture';
import { enrollFixture, useSiteAndServer } from '../../../helpers/site-context-fixture';
import { getTinyModels } from '../../../helpers/tiny-models';

const s = useSiteAndServer();

describe('models handlers', () => {
  it('lists the published versions, pulls one and says it was verified', async () => {
    const h = modelsHandlers(s.f.c);
    expect(await s.f.call(h, 'models.list', { studyId: s.study.id })).toMatchObject({ ok: false, error: { message: expect.stringContaining(s.study.id) } });
    await enrollFixture(s.f, s.t, s.study.id);
    expect(await s.f.call(h, 'models.list', { studyId: s.study.id })).toEqual({ ok: true, data: { models: [] } });
    await publishTestModel(s.t.server, s.study, { roundId: 'r1', srcDir: join(s.f.home, 'src'), files: { 'model.json': '{}', 'weights.bin': new Uint8Array([1, 2, 3]) } });
    expect(await s.f.call(h, 'models.list', { studyId: s.study.id })).toEqual({
      ok: true,
      data: { models: [{ studyId: s.study.id, version: 1, downloaded: false, verified: null, verification: null }] },
    });
    const pulled = await s.f.call(h, 'models.pull', { studyId: s.study.id });
    expect(pulled).toMatchObject({ ok: true, data: { version: 1, downloaded: true, verified: true, verification: expect.stringContaining('signature by the pinned key verified') } });
    expect(s.f.events.some((e) => e.type === 'progress' && e.job === `pull-${s.study.id}`)).toBe(true);
    expect(await s.f.call(h, 'models.list', { studyId: s.study.id })).toMatchObject({ ok: true, data: { models: [{ version: 1, downloaded: true, verified: true }] } });
  });

  it('site models: a server without them, and a bundle that is not the study’s, are refused with a code and what to do; nothing is installed', async () => {
    const h = modelsHandlers(s.f.c);
    await enrollFixture(s.f, s.t, s.study.id);
    // A study that names its CLIP without a digest: nothing a site could check a download against.
    expect(await s.f.call(h, 'models.siteFetch', { studyId: s.study.id })).toMatchObject({
      ok: false,
      error: { code: 'site_model_unpinned', message: 'The study pins no digest for its clip model fgl-tiny/clip: this site cannot verify it.', hint: expect.any(String) },
    });
    const pinned = await createStudy(s.t, { clip: { id: 'fgl-tiny/clip', sha256: '0'.repeat(64) } });
    await enrollFixture(s.f, s.t, pinned.id);
    // This test server was started without --models: it says so, and how else to get them.
    expect(await s.f.call(h, 'models.siteFetch', { studyId: pinned.id })).toMatchObject({
      ok: false,
      error: {
        code: 'site_models_unavailable',
        message: `The study server cannot provide the study's encoder model ${pinned.encoder.id}: this server was started without a encoder model (fgl server start --models DIR).`,
        hint: expect.stringContaining(`fgl site models import --study ${pinned.id} DIR`),
      },
    });
    // The tiny models are not this study's encoder (another digest).
    const tiny = await getTinyModels();
    expect(await s.f.call(h, 'models.siteImport', { studyId: pinned.id, dir: tiny.root })).toMatchObject({
      ok: false,
      error: { code: 'model_refused', message: expect.stringMatching(/^Model refused \(file_hash\): the encoder model in .* is not the study's fgl-tiny\/text-encoder .*; nothing was installed$/), hint: expect.any(String) },
    });
    const missing = await s.f.call(h, 'models.siteImport', { studyId: pinned.id, dir: join(s.f.home, 'no-such-usb') });
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found', hint: expect.stringContaining('USB stick') } });
    expect(existsSync(join(s.f.c.paths.models, 'studies', pinned.id))).toBe(false);
    expect(existsSync(join(s.f.c.paths.models, 'studies', s.study.id))).toBe(false);
  });
});
