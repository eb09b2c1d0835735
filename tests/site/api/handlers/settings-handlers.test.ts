import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { settingsHandlers } from '../../../../src/site/api/handlers/settings-handlers';
import { siteContextFixture, type SiteContextFixture } from '../../../helpers/site-context-fixture';

let f: SiteContextFixture;
beforeEach(async () => void (f = await siteContextFixture()));
afterEach(() => f.close());

describe('settings handlers', () => {
  it('answers the defaults on a new site: offline, tiny models, not enrolled', async () => {
    const r = await f.call(settingsHandlers(f.c), 'settings.get', {});
    expect(r).toEqual({
      ok: true,
      data: { dataHome: f.home, modelsDir: 'tiny', device: 'auto', offline: true, serverUrl: null, siteId: null, serverKeyFingerprint: null, tinyModels: true },
    });
  });

  it('keeps an update in settings.json and shows the enrollment once there is one', async () => {
    const h = settingsHandlers(f.c);
    const r = await f.call(h, 'settings.update', { device: 'cpu', modelsDir: '/opt/models' });
    expect(r).toMatchObject({ ok: true, data: { device: 'cpu', modelsDir: '/opt/models', tinyModels: false } });
    expect(JSON.parse(await readFile(join(f.home, 'settings.json'), 'utf8'))).toMatchObject({ device: 'cpu', modelsDir: '/opt/models' });
    f.c.ledger.enrollments.upsert({
      serverUrl: 'https://fgl.example.org',
      studyId: 's1',
      siteId: 'site-1',
      apiKey: new Uint8Array([1]),
      serverPublicKey: 'pem',
      serverKeyFingerprint: 'ab'.repeat(32),
      tlsCaPem: null,
      tlsCaFingerprint: null,
    });
    expect(await f.call(h, 'settings.get', {})).toMatchObject({ ok: true, data: { device: 'cpu', serverUrl: 'https://fgl.example.org', siteId: 'site-1', serverKeyFingerprint: 'ab'.repeat(32) } });
  });

  it('refuses a setting the contract does not know, changing nothing', async () => {
    const h = settingsHandlers(f.c);
    const r = await f.call(h, 'settings.update', { device: 'tpu' });
    expect(r).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(await f.call(h, 'settings.get', {})).toMatchObject({ ok: true, data: { device: 'auto' } });
  });
});
