import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluateHandlers } from '../../../../src/site/api/handlers/evaluate-handlers';
import { siteContextFixture, type SiteContextFixture } from '../../../helpers/site-context-fixture';

let f: SiteContextFixture;
beforeEach(async () => void (f = await siteContextFixture()));
afterEach(() => f.close());

describe('evaluate handlers', () => {
  it('refuses a model that is not downloaded and verified, saying where to get it', async () => {
    const r = await f.call(evaluateHandlers(f.c), 'evaluate.run', { studyId: 's1', version: 2, dataDir: f.home });
    expect(r).toEqual({ ok: false, error: { code: 'not_downloaded', message: 'Model v2 of s1 is not downloaded and verified on this computer.', hint: 'Pull it on the Models screen first.' } });
  });

  it('refuses to export an evaluation that does not exist', async () => {
    expect(await f.call(evaluateHandlers(f.c), 'evaluate.export', { evaluationId: 7 })).toMatchObject({ ok: false, error: { code: 'not_found', message: 'No evaluation #7 with reports.' } });
  });
});
