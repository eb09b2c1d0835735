import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildPackage,
  createStudy,
  issueToken,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';

type OpenApiDoc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown }
    >
  >;
};

describe('OpenAPI document and log hygiene', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('serves an OpenAPI 3 document that lists every route', async () => {
    const res = await t.api('GET', '/v1/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.json as OpenApiDoc;
    expect(doc.openapi).toMatch(/^3\./);
    const ops = Object.entries(doc.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(ops.sort()).toEqual(
      [
        'GET /v1/health',
        'GET /v1/server-key',
        'GET /v1/openapi.json',
        'POST /v1/studies',
        'GET /v1/studies',
        'GET /v1/studies/{studyId}',
        'GET /v1/studies/{studyId}/manifest',
        'POST /v1/studies/{studyId}/enrollment-tokens',
        'POST /v1/enroll',
        'POST /v1/sites/{siteId}/revoke',
        'GET /v1/studies/{studyId}/sites',
        'POST /v1/studies/{studyId}/sites/{siteId}/enrollment-tokens',
        'PUT /v1/studies/{studyId}/packages/{sha256}',
        'GET /v1/studies/{studyId}/packages',
        'GET /v1/studies/{studyId}/packages/{sha256}',
        'POST /v1/studies/{studyId}/rounds',
        'POST /v1/rounds/{roundId}/run',
        'GET /v1/studies/{studyId}/rounds/latest',
        'GET /v1/rounds/{roundId}',
        'GET /v1/studies/{studyId}/models',
        'GET /v1/studies/{studyId}/models/{version}/manifest.json',
        'GET /v1/studies/{studyId}/models/{version}/manifest.sig',
        'GET /v1/studies/{studyId}/models/{version}/files/{path}',
        'PUT /v1/studies/{studyId}/models/{version}/evaluation',
        'GET /v1/studies/{studyId}/evaluations',
        'GET /v1/studies/{studyId}/site-models',
        'GET /v1/studies/{studyId}/site-models/{role}/files/{path}',
      ].sort(),
    );
    const createStudyOp = doc.paths['/v1/studies']!.post!;
    expect(JSON.stringify(createStudyOp.requestBody)).toContain('"classes"');
    expect(
      JSON.stringify(doc.paths['/v1/studies/{studyId}/packages/{sha256}']!.put!.requestBody),
    ).toContain('application/octet-stream');
    for (const methods of Object.values(doc.paths))
      for (const op of Object.values(methods)) expect(op.responses.default).toBeDefined();
  });

  it('never writes a token or key into the logs, even on errors', async () => {
    const study = await createStudy(t);
    const tok = await issueToken(t, study.id, 'Log Site');
    const enroll = await t.api('POST', '/v1/enroll', { json: { token: tok.token } });
    const apiKey = (enroll.json as { apiKey: string }).apiKey;
    await t.api('POST', '/v1/enroll', { json: { token: tok.token } }); // reuse → 410
    await t.api('GET', '/v1/studies', { key: apiKey + 'x' }); // bad key → 401
    await t.api('GET', '/v1/studies', { key: apiKey });
    const site = (enroll.json as { siteId: string }).siteId;
    const bytes = buildPackage(study, site);
    await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(bytes)}`, {
      key: apiKey,
      body: bytes,
    });
    await t.api('GET', '/v1/studies', { key: t.adminKey, headers: { 'x-extra': 'y' } });

    const all = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThan(10);
    for (const secret of [tok.token, apiKey, t.adminKey]) {
      expect(all).not.toContain(secret);
      // Not even a recognisable chunk of it.
      expect(all).not.toContain(secret.slice(-20));
    }
    expect(all).not.toContain('PRIVATE KEY');
    // The logs are useful: requests and the intake are recorded.
    expect(all).toContain('package intake');
  });
});
