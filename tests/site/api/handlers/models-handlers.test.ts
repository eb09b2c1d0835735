import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelsHandlers } from '../../../../src/site/api/handlers/models-handlers';
import { publishTestModel } from '../../../helpers/server-fixture';
import { enrollFixture, useSiteAndServer } from '../../../helpers/site-context-fixture';

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
});
