/**
 * Issue #12 item 3 ("a preview costs no ε") and item 4's remainder (ε by content across every
 * FGL_HOME of this account). Each test was run on the code before the fix, where it failed.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
import { releasePlan } from '../../../src/site/prepare/release-plan';
import { MachineSpend, machineSpendPath } from '../../../src/site/privacy/machine-spend';

/** Every unit key this ledger has charged. */
const unitKeys = (ledger: Ledger) => (ledger.db.prepare('SELECT DISTINCT unit_key AS k FROM dp_unit_spend').all() as { k: string }[]).map((r) => r.k);

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
      for (let i = 0; i < 3; i++) await preparePackage(options(ledger));
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
      const one = await preparePackage(options(ledger));
      const two = await preparePackage(options(ledger));
      const shown = (r: typeof one) => JSON.stringify(r.report.rows);
      console.log(`(b) preview 1 rows: ${shown(one)}\n(b) preview 2 rows: ${shown(two)}`);
      expect(shown(two)).toBe(shown(one));
      expect(one.sha256).toBeNull();
      expect(existsSync(one.packagePath)).toBe(false);
      // What the plan holds: the exact parameters and counts (local), no noisy value anywhere.
      expect(one.report.release).toEqual({ state: 'plan' });
      expect(one.report.dp).toMatchObject({ epsilon: 4, spentBefore: 0, totalAfter: 4 });
      expect(JSON.stringify(one.report)).not.toMatch(/noisy count \d/);
      expect(await readFile(one.reportMarkdownPath, 'utf8')).toContain('This is a plan: no noise has been drawn, no ε charged');
    } finally {
      ledger.close();
    }
  });

  it('(c) approval draws the noise once and charges ε durably; approving again (after a crash before the upload) reuses that package', async () => {
    const file = join(tmp, 'approve', 'ledger.sqlite');
    let ledger = Ledger.open(file);
    const plan = await preparePackage(options(ledger));
    const first = await releasePlan({ ledger, planId: plan.plan!.id, approvers: ['Dr Steward', 'Privacy Office'], rng: seededRng(51) });
    // The process dies between the charge and the upload: reopen the ledger as a restart would.
    ledger.close();
    ledger = Ledger.open(file);
    try {
      expect(ledger.dp.spentByUnits(unitKeys(ledger))).toBe(4);
      expect(ledger.dp.list(plan.datasetId)).toEqual([expect.objectContaining({ epsilon: 4, packageSha256: first.sha256 })]);
      expect(ledger.plans.get(plan.plan!.id)).toMatchObject({ outcome: 'package', packageSha256: first.sha256, approvers: ['Dr Steward', 'Privacy Office'] });
      expect(createHash('sha256').update(await readFile(first.packagePath)).digest('hex')).toBe(first.sha256);
      expect(first.report.release).toMatchObject({ state: 'released', approvers: ['Dr Steward', 'Privacy Office'] });
      // Approving the same plan again: the same bytes, no second draw, no second charge.
      const again = await releasePlan({ ledger, planId: plan.plan!.id, approvers: ['Someone Else'], rng: seededRng(52) });
      console.log(`(c) first approval ${first.sha256.slice(0, 12)}…, again ${again.sha256.slice(0, 12)}… (reused: ${again.reused}); ε charges: ${ledger.dp.list(plan.datasetId).length}`);
      expect(again).toMatchObject({ sha256: first.sha256, reused: true });
      expect(ledger.dp.list(plan.datasetId)).toHaveLength(1);
      // The drawn package deleted: approving again refuses rather than drawing fresh noise for free.
      await rm(first.packagePath);
      await expect(releasePlan({ ledger, planId: plan.plan!.id, approvers: ['Someone Else'], rng: seededRng(53) })).rejects.toThrow(/no longer at .*charged then and is not given back/);
      expect(ledger.dp.list(plan.datasetId)).toHaveLength(1);
      // The plan cannot be reset to draw again, even by writing the ledger directly.
      expect(() => ledger.db.prepare('UPDATE release_plans SET outcome = NULL, package_sha256 = NULL WHERE id = ?').run(plan.plan!.id)).toThrow(/released once/);
    } finally {
      ledger.close();
    }
  });

  it('(c) a plan changed after review is not approved', async () => {
    const ledger = Ledger.open(':memory:');
    try {
      const plan = await preparePackage(options(ledger));
      await writeFile(plan.plan!.path, (await readFile(plan.plan!.path, 'utf8')).replace('"count":8', '"count":80'));
      await expect(releasePlan({ ledger, planId: plan.plan!.id, approvers: ['Dr Steward'] })).rejects.toThrow(/changed since it was prepared/);
      expect(ledger.dp.list(plan.datasetId)).toHaveLength(0);
    } finally {
      ledger.close();
    }
  });
});

describe('ε by content across FGL_HOMEs (issue #12 item 4)', () => {
  it('a second FGL_HOME (a second site ledger) on the same account finds the ε already spent on the same images', async () => {
    const homeA = Ledger.open(join(tmp, 'home-a', 'ledger.sqlite'));
    const homeB = Ledger.open(join(tmp, 'home-b', 'ledger.sqlite'));
    // What the CLI and the app open: $FGL_PRIVACY_LEDGER, outside both FGL_HOMEs.
    const before = process.env.FGL_PRIVACY_LEDGER;
    process.env.FGL_PRIVACY_LEDGER = join(tmp, 'state', 'privacy-spend.sqlite');
    const machineA = MachineSpend.open(machineSpendPath());
    const machineB = MachineSpend.open(machineSpendPath());
    try {
      const a = await preparePackage(options(homeA, { dpEpsilon: 6, machine: machineA }));
      await releasePlan({ ledger: homeA, planId: a.plan!.id, approvers: ['Dr Steward'], machine: machineA, rng: seededRng(41) });
      const second = await preparePackage(options(homeB, { dpEpsilon: 6, machine: machineB })).catch((e: unknown) => e as Error);
      console.log(`budget 9, ε 6 spent from FGL_HOME a; from FGL_HOME b: ${second instanceof Error ? `refused: ${second.message}` : `accepted (ε spent before ${second.report.dp?.spentBefore})`}`);
      expect(second).toBeInstanceOf(Error);
      expect((second as Error).message).toMatch(/only 3 of the budget 9 is left for these images \(already spent 6\)/);
      // Also at approval: a plan made before the other home spent is refused when approved.
      const early = await preparePackage(options(homeB, { dpEpsilon: 2, machine: machineB }));
      const c = await preparePackage(options(homeA, { dpEpsilon: 2, machine: machineA }));
      await releasePlan({ ledger: homeA, planId: c.plan!.id, approvers: ['Dr Steward'], machine: machineA, rng: seededRng(43) });
      await expect(releasePlan({ ledger: homeB, planId: early.plan!.id, approvers: ['Dr Steward'], machine: machineB, rng: seededRng(44) })).rejects.toThrow(/only 1 of the budget 9 is left for these images \(already spent 8\)/);
    } finally {
      homeA.close();
      homeB.close();
      machineA.close();
      machineB.close();
      process.env.FGL_PRIVACY_LEDGER = before;
    }
  });
});
