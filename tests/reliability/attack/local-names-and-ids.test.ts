import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSafeExternalUrl } from '../../../src/main/security';
import type { StudyManifest } from '../../../src/shared/study';
import {
  createStudy,
  enrollSite,
  publishTestModel,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';
import os from 'node:os';

/*
 * Issue #14 finding 11: (a) links the desktop app opens in the system browser must not reach
 * into the hospital LAN through names that resolve to local addresses (wildcard DNS such as
 * nip.io / sslip.io, `.lan`, `.home.arpa` …); (b) integer route parameters are canonical:
 * `1e0`, `0x1`, `01` are not version 1.
 */

const figures: Record<string, number | string> = {};
afterAll(() => void recordFigures('attack', '#11 local names and canonical ids', figures));

const LOCAL_LINKS = [
  'https://127.0.0.1.nip.io/',
  'https://app.10.0.0.5.nip.io/admin',
  'https://10-0-0-5.sslip.io/',
  'https://192.168.1.20.xip.io/',
  'https://c0a80114.nip.io/',
  'https://localtest.me/',
  'https://sub.lvh.me/',
  'https://printer.lan/',
  'https://nas.home.arpa/',
  'https://router.home/',
  'https://pacs.localdomain/',
  'https://db.intranet/',
  'https://wiki.corp/',
  'https://x.internal/',
  'https://0x7f000001/',
  'https://2130706433/',
];

describe('external links never reach local names (issue #14 finding 11a)', () => {
  it.each(LOCAL_LINKS)('refuses %s', (url) => {
    expect(isSafeExternalUrl(url)).toBe(false);
  });
  it('still opens ordinary public links', () => {
    for (const u of [
      'https://github.com/fgl/fgl',
      'https://arxiv.org/abs/2306.16064',
      'https://docs.example.org/a?b=c',
      'https://www.nih.gov/',
    ])
      expect(isSafeExternalUrl(u), u).toBe(true);
    figures['local-looking links refused'] = LOCAL_LINKS.filter(
      (u) => !isSafeExternalUrl(u),
    ).length;
    figures['local-looking links tried'] = LOCAL_LINKS.length;
  });
});

describe('integer route parameters are canonical (issue #14 finding 11b)', () => {
  let t: TestServer;
  let study: StudyManifest;
  let key: string;
  beforeAll(async () => {
    t = await startTestServer();
    study = await createStudy(t);
    key = (await enrollSite(t, study.id, 'Id Site')).apiKey;
    await publishTestModel(t.server, study, {
      roundId: 'round-ids',
      srcDir: path.join(os.tmpdir(), `fgl-ids-${process.pid}`),
      files: { 'm.bin': 'x' },
    });
  });
  afterAll(async () => t?.close());

  it('serves version 1 as `1` only: `1e0`, `0x1`, `01`, `1.0`, `+1`, ` 1` are 400', async () => {
    expect(
      (await t.api('GET', `/v1/studies/${study.id}/models/1/manifest.json`, { key })).status,
    ).toBe(200);
    const odd = ['1e0', '0x1', '01', '1.0', '+1', '%201', '0b1'];
    const statuses: number[] = [];
    for (const v of odd)
      statuses.push(
        (await t.api('GET', `/v1/studies/${study.id}/models/${v}/manifest.json`, { key })).status,
      );
    figures['non-canonical versions'] = odd.length;
    figures['non-canonical versions refused (400)'] = statuses.filter((s) => s === 400).length;
    expect(statuses).toEqual(odd.map(() => 400));
  });
});
