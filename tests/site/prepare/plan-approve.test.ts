/**
 * Issue #12 item 3 ("a preview costs no ε") and item 4's remainder (ε by content across every
 * FGL_HOME of this account). Each test was run on the code before the fix, where it failed.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StudyManifest } from '../../../src/shared/study';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder, type ModelsFolder } from '../../../src/cli/study/models-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import { preparePackage, type PrepareOptions } from '../../../src/site/prepare/prepare-package';
import { getTinyModels } from '../../helpers/tiny-models';
import { seededRng } from '../../../src/site/privacy/seeded-rng';

const PHOTOS = join(__dirname, '..', '..', 'fixtures', 'real-photos');
let tmp: string;
let models: ModelsFolder;
let study: StudyManifest;
let data: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fgl-plan-'));
  models = await describeModelsFolder((await getTinyModels()).root);
  study = buildStudyManifest({ name: 'plan', classes: ['a', 'b'], models, k: 3 });
  study = { ...study, privacy: { ...study.privacy, maxEpsilon: 9 } };
  const photos = (await readdir(PHOTOS)).filter((f) => f.endsWith('.jpg')).sort();
  data = join(tmp, 'data');
  for (const [c, files] of [['a', photos.slice(0, 8)], ['b', photos.slice(8, 16)]] as const) {
    await mkdir(join(data, c), { recursive: true });
    for (const f of files) await copyFile(join(PHOTOS, f), join(data, c, f));
  }
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

function options(ledger: Ledger, over: Partial<PrepareOptions> = {}): PrepareOptions {
  return {
    ledger,
    dataDir: data,
    study,
    siteId: 'site-plan01',
    models: { clip: models.clip.dir, generator: models.generator.dir, captioner: null, tiny: true },
    promptMode: 'class',
    aggregation: 'class',
    dpEpsilon: 4,
    outDir: join(tmp, `out-${Math.random().toString(36).slice(2)}`),
    device: 'cpu',
    dtype: 'F32',
    ...over,
  };
}

describe('a preview costs no ε (issue #12 item 3)', () => {
  it('(a) preparing the same DP package three times charges nothing', async () => {
    const ledger = Ledger.open(':memory:');
    try {
      for (let i = 0; i < 3; i++) await preparePackage(options(ledger, { rng: seededRng(20 + i) }));
      const charged = ledger.db.prepare('SELECT count(*) AS n, coalesce(sum(epsilon), 0) AS e FROM dp_budget').get() as { n: number; e: number };
      console.log(`(a) after 3 previews: ${charged.n} charges, ε ${charged.e}`);
      expect(charged).toEqual({ n: 0, e: 0 });
    } finally {
      ledger.close();
    }
  });

  it('(b) two previews of the same plan show no noise draw, and nothing that could leave is written', async () => {
    const ledger = Ledger.open(':memory:');
    try {
      const one = await preparePackage(options(ledger, { rng: seededRng(31) }));
      const two = await preparePackage(options(ledger, { rng: seededRng(32) }));
      const shown = (r: typeof one) => JSON.stringify(r.report.rows);
      console.log(`(b) preview 1 rows: ${shown(one)}\n(b) preview 2 rows: ${shown(two)}`);
      expect(shown(two)).toBe(shown(one));
      expect(one.sha256).toBeNull();
      expect(existsSync(join(one.packagePath))).toBe(false);
    } finally {
      ledger.close();
    }
  });
});

describe('ε by content across FGL_HOMEs (issue #12 item 4)', () => {
  it('a second FGL_HOME (a second site ledger) on the same account finds the ε already spent on the same images', async () => {
    const homeA = Ledger.open(join(tmp, 'home-a', 'ledger.sqlite'));
    const homeB = Ledger.open(join(tmp, 'home-b', 'ledger.sqlite'));
    try {
      await preparePackage(options(homeA, { dpEpsilon: 6, rng: seededRng(41) }));
      const second = await preparePackage(options(homeB, { dpEpsilon: 6, rng: seededRng(42) })).catch((e: unknown) => e as Error);
      console.log(`budget 9, ε 6 spent from FGL_HOME a; from FGL_HOME b: ${second instanceof Error ? `refused: ${second.message}` : `accepted (ε spent before ${second.report.dp?.spentBefore})`}`);
      expect(second).toBeInstanceOf(Error);
      expect((second as Error).message).toMatch(/only 3 of the budget 9 is left for these images \(already spent 6\)/);
    } finally {
      homeA.close();
      homeB.close();
    }
  });
});
