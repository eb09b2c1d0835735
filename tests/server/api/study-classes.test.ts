import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, studyBody, type TestServer } from '../../helpers/server-fixture';

let t: TestServer;
beforeAll(async () => void (t = await startTestServer()));
afterAll(() => t.close());

describe('POST /v1/studies and class names', () => {
  it('refuses two classes that the class-name rule makes one, saying which', async () => {
    const res = await t.api('POST', '/v1/studies', { key: t.adminKey, json: studyBody({ classes: ['Normal', 'pneumonia', 'normal'] }) });
    expect(res.status).toBe(400);
    expect(res.text).toContain('\\"Normal\\" and \\"normal\\" are the same class');
    const ok = await t.api('POST', '/v1/studies', { key: t.adminKey, json: studyBody({ classes: ['normal', 'pneumonia'] }) });
    expect(ok.status).toBe(201);
  });
});
