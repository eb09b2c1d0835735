/**
 * Attack (issue #12): opt-in shared metrics carried per-class support and recall with no floor, so
 * a class with one local image told the server whether the model got that one image right.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import {
  createStudy,
  enrollSite,
  publishTestModel,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { STORE_ENGINES, storeFactory } from '../../helpers/store-engines';

const stores = storeFactory();
afterAll(() => stores.stop());

describe.each(STORE_ENGINES)(
  'shared metrics have a k floor on per-class support (%s store)',
  (engine) => {
    let t: TestServer;
    let study: StudyManifest;
    let key: string;

    const metrics = (supports: number[]) => ({
      samples: supports.reduce((a, b) => a + b, 0),
      accuracy: 0.8,
      balancedAccuracy: 0.75,
      macroF1: 0.7,
      macroAuroc: null,
      ece: 0.05,
      perClass: supports.map((support, i) => ({
        name: ['cat', 'dog', 'bird'][i]!,
        precision: 1,
        recall: support === 1 ? 0 : 0.8,
        f1: 0.8,
        support,
      })),
    });

    beforeAll(async () => {
      t = await startTestServer(await stores.options(engine));
      study = await createStudy(t, { privacy: { k: 5, maxEpsilon: null } });
      key = (await enrollSite(t, study.id, 'Evaluator')).apiKey;
      await publishTestModel(t.server, study, {
        roundId: 'r1',
        srcDir: await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-metrics-')),
        files: { 'model.json': '{}' },
      });
    }, 60_000);
    afterAll(() => t.close());

    describe('shared metrics have a k floor on per-class support', () => {
      it('refuses a per-class row whose support is below the study k (it would tell one image’s result)', async () => {
        const res = await t.api('PUT', `/v1/studies/${study.id}/models/1/evaluation`, {
          key,
          json: metrics([40, 30, 1]),
        });
        console.log(
          `shared metrics with a class of support 1 (k = 5): ${res.status} ${res.text.slice(0, 160)}`,
        );
        expect(res.status).toBe(422);
        expect(res.text).toMatch(/metrics_below_k/);
        expect(await t.server.store.models.listEvaluations(study.id)).toEqual([]);
      });

      it('accepts metrics whose small classes were suppressed by the site', async () => {
        const res = await t.api('PUT', `/v1/studies/${study.id}/models/1/evaluation`, {
          key,
          json: { ...metrics([40, 30]), suppressedClasses: 1 },
        });
        expect(res.status).toBe(200);
      });
    });
  },
);
