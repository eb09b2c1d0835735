import http from 'node:http';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataToStrings, type PackageMetadata } from '../../../src/shared/package-format';
import { writeSafetensors } from '../../../src/shared/safetensors';
import type { StudyManifest } from '../../../src/shared/study';
import {
  buildPackage,
  createStudy,
  enrollSite,
  packageStoreSnapshot,
  sha256Hex,
  startTestServer,
  type TestServer,
  validMetadata,
} from '../../helpers/server-fixture';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)('package intake over HTTP (%s store)', (engine) => {
  const LIMIT = 64 * 1024;

  /** A package written with the raw safetensors writer, so it can break rules encodePackage enforces. */
  function rawPackage(
    study: StudyManifest,
    siteId: string,
    o: {
      conditioning?: Float32Array;
      extraTensor?: boolean;
      metadata?: Record<string, string>;
    } = {},
  ): Uint8Array {
    const n = 2;
    const dim = study.encoder.dim;
    const conditioning = o.conditioning ?? new Float32Array(n * 77 * dim).fill(0.25);
    return writeSafetensors(
      {
        conditioning: { dtype: 'F32', shape: [n, 77, dim], data: conditioning },
        labels: { dtype: 'I32', shape: [n], data: Int32Array.from([0, 1]) },
        counts: { dtype: 'I32', shape: [n], data: Int32Array.from([5, 5]) },
        ...(o.extraTensor
          ? { image: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } }
          : {}),
      },
      o.metadata ?? metadataToStrings(validMetadata(study, siteId)),
    );
  }

  /** PUT a body in chunks without Content-Length; stops writing when the server answers or stops reading. */
  function chunkedUpload(
    url: string,
    key: string,
    total: number,
  ): Promise<{ status: number; body: string; sent: number }> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/octet-stream',
          'transfer-encoding': 'chunked',
        },
      });
      let sent = 0;
      let answered = false;
      const chunk = Buffer.alloc(64 * 1024, 7);
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
        res.on('error', reject);
      });
      // Writes after the server closed the connection fail; the response is what we check.
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      const pump = () => {
        while (!answered && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!answered) req.end();
      };
      pump();
    });
  }

  describe('package intake over HTTP', () => {
    let t: TestServer;
    let study: StudyManifest;
    let strict: StudyManifest;
    let site: { siteId: string; apiKey: string };

    beforeAll(async () => {
      t = await startTestServer({
        ...(await stores.options(engine)),
        limits: { maxPackageBytes: LIMIT },
      });
      study = await createStudy(t);
      strict = await createStudy(t, { name: 'No DP needed', privacy: { k: 3, maxEpsilon: null } });
      site = await enrollSite(t, study.id, 'Uploader');
      const tok = await t.api('POST', `/v1/studies/${strict.id}/enrollment-tokens`, {
        key: t.adminKey,
        json: { siteName: 'Uploader' },
      });
      const joined = await t.api('POST', '/v1/enroll', {
        key: site.apiKey,
        json: { token: (tok.json as { token: string }).token },
      });
      expect(joined.status).toBe(201);
    });
    afterAll(async () => {
      await t.close();
    });

    const put = (
      studyId: string,
      sha: string,
      body: Uint8Array,
      headers?: Record<string, string>,
    ) =>
      t.api('PUT', `/v1/studies/${studyId}/packages/${sha}`, {
        key: site.apiKey,
        body,
        ...(headers ? { headers } : {}),
      });

    it('stores a valid package (201) and treats the same bytes again as a no-op (200, one row, one file)', async () => {
      const bytes = buildPackage(study, site.siteId, { seed: 42 });
      const sha = sha256Hex(bytes);
      const first = await put(study.id, sha, bytes);
      expect(first.status).toBe(201);
      expect(first.json).toMatchObject({
        created: true,
        package: {
          sha256: sha,
          studyId: study.id,
          siteId: site.siteId,
          bytes: bytes.length,
          rows: 4,
        },
      });
      const stored = await fs.readFile(`${t.server.layout.packagesDir}/${sha}.safetensors`);
      expect(sha256Hex(stored)).toBe(sha);

      const before = await packageStoreSnapshot(t);
      const again = await put(study.id, sha, bytes);
      expect(again.status).toBe(200);
      expect(again.json).toMatchObject({ created: false, package: { sha256: sha } });
      expect(await packageStoreSnapshot(t)).toEqual(before);
      expect(before.files.filter((f) => f.startsWith(sha))).toEqual([`${sha}.safetensors`]);
      expect((before.rows as { sha256: string }[]).filter((r) => r.sha256 === sha)).toHaveLength(1);
    });

    const meta = (o: Partial<PackageMetadata>) => ({ metadata: o });
    const rejections: {
      name: string;
      status: number;
      code: string | RegExp;
      make: () => {
        studyId: string;
        bytes: Uint8Array;
        sha?: string;
        headers?: Record<string, string>;
      };
    }[] = [
      {
        name: 'URL sha256 differs from the body',
        status: 400,
        code: 'package_hash_mismatch',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { seed: 3 }),
          sha: 'f'.repeat(64),
        }),
      },
      {
        name: 'not safetensors at all',
        status: 400,
        code: /^package_/,
        make: () => ({
          studyId: study.id,
          bytes: new TextEncoder().encode('this is not a package, just text'),
        }),
      },
      {
        name: 'truncated file',
        status: 400,
        code: /^package_/,
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { seed: 4 }).subarray(0, 900),
        }),
      },
      {
        name: 'an extra tensor',
        status: 400,
        code: 'package_wrong_tensors',
        make: () => ({
          studyId: study.id,
          bytes: rawPackage(study, site.siteId, { extraTensor: true }),
        }),
      },
      {
        name: 'metadata missing a field',
        status: 400,
        code: 'package_bad_metadata',
        make: () => ({
          studyId: study.id,
          bytes: rawPackage(study, site.siteId, { metadata: { format: 'fgl-embedding-package' } }),
        }),
      },
      {
        name: 'NaN in conditioning',
        status: 400,
        code: 'package_non_finite',
        make: () => {
          const c = new Float32Array(2 * 77 * study.encoder.dim).fill(0.1);
          c[100] = NaN;
          return { studyId: study.id, bytes: rawPackage(study, site.siteId, { conditioning: c }) };
        },
      },
      {
        name: 'metadata names another study',
        status: 422,
        code: 'package_wrong_study',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ study_id: strict.id })),
        }),
      },
      {
        name: 'metadata names another site',
        status: 422,
        code: 'package_wrong_site',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ site_id: 'site-someoneelse' })),
        }),
      },
      {
        name: 'another encoder id',
        status: 422,
        code: 'encoder_mismatch',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ encoder_id: 'other/encoder' })),
        }),
      },
      {
        name: 'another encoder sha256',
        status: 422,
        code: 'encoder_mismatch',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ encoder_sha256: 'b'.repeat(64) })),
        }),
      },
      {
        name: 'wrong D',
        status: 422,
        code: 'dimension_mismatch',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { dim: study.encoder.dim + 4 }),
        }),
      },
      {
        name: 'label past the last class',
        status: 422,
        code: 'label_out_of_range',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { labels: [0, 1, 2, 3] }),
        }),
      },
      {
        name: 'a row below k images',
        status: 422,
        code: 'count_below_k',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { counts: [5, 5, 2, 5] }),
        }),
      },
      {
        name: 'declared k below the study k',
        status: 422,
        code: 'k_below_policy',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ k: 1 })),
        }),
      },
      {
        name: 'instance rows the study forbids',
        status: 422,
        code: 'instance_rows_not_allowed',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(
            study,
            site.siteId,
            meta({ aggregation: 'instance', prompt_mode: 'instance' }),
          ),
        }),
      },
      {
        name: 'prompt mode not in the study',
        status: 422,
        code: 'prompt_mode_not_allowed',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ prompt_mode: 'vocabulary' })),
        }),
      },
      {
        name: 'ε above the study maximum',
        status: 422,
        code: 'epsilon_exceeds_policy',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ dp_epsilon: 9 })),
        }),
      },
      {
        name: 'no DP where the study requires it',
        status: 422,
        code: 'dp_required',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(
            study,
            site.siteId,
            meta({ dp_epsilon: null, dp_delta: null, dp_clip: null, dp_sigma: null }),
          ),
        }),
      },
      {
        name: 'a study manifest hash that is not this study’s',
        status: 422,
        code: 'study_manifest_mismatch',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, meta({ study_sha256: 'e'.repeat(64) })),
        }),
      },
      {
        name: 'a singling-out threshold looser than the study’s',
        status: 422,
        code: 'singling_out_ratio_above_policy',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(
            study,
            site.siteId,
            meta({ singling_out_ratio: study.privacy.singlingOutRatio + 1 }),
          ),
        }),
      },
      {
        name: 'wrong content type',
        status: 415,
        code: 'unsupported_media_type',
        make: () => ({
          studyId: study.id,
          bytes: buildPackage(study, site.siteId, { seed: 5 }),
          headers: { 'content-type': 'text/plain' },
        }),
      },
      {
        name: 'declared Content-Length over the limit',
        status: 413,
        code: 'package_too_large',
        make: () => ({ studyId: study.id, bytes: new Uint8Array(LIMIT + 1) }),
      },
    ];

    for (const r of rejections) {
      it(`rejects ${r.name} with ${r.status} and leaves the store unchanged`, async () => {
        const { studyId, bytes, sha, headers } = r.make();
        const before = await packageStoreSnapshot(t);
        const res = await put(studyId, sha ?? sha256Hex(bytes), bytes, headers);
        expect(res.status, res.text).toBe(r.status);
        const err = (res.json as { error: { code: string; message: string; hint?: string } }).error;
        if (typeof r.code === 'string') expect(err.code).toBe(r.code);
        else expect(err.code).toMatch(r.code);
        expect(err.message.length).toBeGreaterThan(10);
        expect(err.hint).toEqual(expect.any(String));
        expect(await packageStoreSnapshot(t)).toEqual(before);
      });
    }

    it('accepts a package whose study manifest hash is this study’s', async () => {
      const { createHash } = await import('node:crypto');
      const { studyManifestCanonicalJson } = await import('../../../src/shared/study');
      const sha = createHash('sha256').update(studyManifestCanonicalJson(study)).digest('hex');
      const bytes = buildPackage(study, site.siteId, {
        seed: 77,
        metadata: {
          study_sha256: sha,
          singling_out_ratio: study.privacy.singlingOutRatio,
          dp_epsilon: 0.5,
        },
      });
      const res = await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(bytes)}`, {
        key: site.apiKey,
        body: bytes,
      });
      expect(res.status).toBe(201);
    });

    it('accepts a package without DP when the study does not require it', async () => {
      const bytes = buildPackage(
        strict,
        site.siteId,
        meta({ dp_epsilon: null, dp_delta: null, dp_clip: null, dp_sigma: null }),
      );
      const res = await put(strict.id, sha256Hex(bytes), bytes);
      expect(res.status).toBe(201);
    });

    it('stops reading an oversize chunked body at the limit (413) and keeps no temp file', async () => {
      const before = await packageStoreSnapshot(t);
      const total = 64 * 1024 * 1024;
      const res = await chunkedUpload(
        `${t.url}/v1/studies/${study.id}/packages/${'a'.repeat(64)}`,
        site.apiKey,
        total,
      );
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toMatchObject({
        error: { code: 'package_too_large', hint: expect.any(String) },
      });
      // The server paused the stream at the limit: the client could not push the whole body.
      expect(res.sent).toBeLessThan(total);
      expect(await packageStoreSnapshot(t)).toEqual(before);
      // The connection was closed, and the server still serves new requests.
      expect((await t.api('GET', '/v1/health')).status).toBe(200);
    });

    it('refuses uploads from the admin key (sites only)', async () => {
      const bytes = buildPackage(study, site.siteId, { seed: 6 });
      const res = await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(bytes)}`, {
        key: t.adminKey,
        body: bytes,
      });
      expect(res.status).toBe(403);
    });
  });
});
