import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage } from '../../../src/shared/embedding-package';
import type { ProgressEvent } from '../../../src/shared/progress';
import type { StudyManifest } from '../../../src/shared/study';
import { makeSampleData } from '../../../src/cli/sample-data/make-sample-data';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder, type ModelsFolder } from '../../../src/cli/study/models-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import { preparePackage, PrepareError, type PrepareOptions } from '../../../src/site/prepare/prepare-package';
import { EncoderMismatchError } from '../../../src/site/prepare/site-models';
import { loadTextEncoder } from '../../../src/core/inference/text-encoder';
import { DEFAULT_CLASS_TEMPLATE, studyManifestCanonicalJson } from '../../../src/shared/study';
import { getTinyModels } from '../../helpers/tiny-models';
import { seededRng, type Rng } from '../../../src/site/privacy/seeded-rng';
import { prepareAndApprove } from '../../helpers/prepare-and-approve';
import { cudaProviderInstalled } from '../../../src/core/ort/execution-device';
import { treeFingerprint } from '../../helpers/broken-images';

let tmp: string;
let data: string;
let models: ModelsFolder;
let study: StudyManifest;
const classes = ['red circle', 'blue square', 'green triangle', 'yellow star'];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fgl-prepare-'));
  data = join(tmp, 'data');
  await makeSampleData(data, { classes: 4, perClass: 8, seed: 2, size: 48 });
  // Broken files the scan must skip without losing the rest.
  await writeFile(join(data, 'red circle', 'empty.png'), '');
  await writeFile(join(data, 'blue square', 'notes.jpg'), 'not an image');
  const good = await readFile(join(data, 'green triangle', 'green-triangle-0000.png'));
  await writeFile(join(data, 'green triangle', 'cut.png'), good.subarray(0, good.length / 2));
  models = await describeModelsFolder((await getTinyModels()).root);
  study = buildStudyManifest({ name: 'prepare test', classes, models, k: 3, vocabulary: ['red', 'blue', 'green', 'yellow', 'circle', 'square', 'star', 'triangle'] });
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

function options(ledger: Ledger, over: Partial<PrepareOptions> & { rng?: Rng } = {}): PrepareOptions & { rng?: Rng } {
  return {
    ledger,
    dataDir: data,
    study,
    siteId: 'site-test0001',
    models: { clip: models.clip.dir, generator: models.generator.dir, captioner: models.captioner?.dir ?? null, tiny: true },
    promptMode: 'class',
    aggregation: 'class',
    outDir: join(tmp, `out-${Math.random().toString(36).slice(2)}`),
    device: 'cpu',
    ...over,
  };
}

describe('site prepare pipeline (tiny models, real files, real sqlite)', () => {
  it('makes a package the reader accepts and a report whose counts match the scan, leaving the folder untouched', async () => {
    const before = await treeFingerprint(data);
    const ledger = Ledger.open(join(tmp, 'l1.sqlite'));
    try {
      const r = await preparePackage(options(ledger));
      const pkg = decodePackage(new Uint8Array(await readFile(r.packagePath)));
      expect(pkg.n).toBe(4);
      expect(pkg.dim).toBe(models.encoder.dim);
      expect(pkg.metadata.encoder_sha256).toBe(study.encoder.sha256);
      expect(pkg.metadata.site_id).toBe('site-test0001');
      // counts are privacy units: the generated shapes include near-identical drawings (same shape,
      // same place, near-identical background), which count once.
      expect([...pkg.counts].reduce((a, b) => a + b, 0)).toBe(r.report.dataset.units.count);
      expect(r.report.dataset.units.count).toBeGreaterThanOrEqual(30);
      expect(r.report.dataset.units.merged).toMatchObject({ identical: 0, patient: 0 });
      expect(r.report.dataset.images).toBe(32);
      expect(pkg.metadata.privacy_unit).toBe('image');
      expect(pkg.metadata.created_at).toMatch(/T00:00:00\.000Z$/);
      // What the server checks: the study manifest the site used, its singling-out threshold and PHI action.
      expect(pkg.metadata.study_sha256).toBe(createHash('sha256').update(studyManifestCanonicalJson(study)).digest('hex'));
      expect(pkg.metadata).toMatchObject({ singling_out_ratio: study.privacy.singlingOutRatio, phi_action: 'drop' });
      expect(r.report.dataset.classes.map((c) => c.count)).toEqual([8, 8, 8, 8]);
      expect(r.report.dataset.skipped.reduce((a, s) => a + s.count, 0)).toBe(3);
      expect(r.report.outgoing).toMatchObject({ rows: 4, bytes: r.bytes, shape: [4, 77, models.encoder.dim] });
      expect(r.report.projection.outgoing).toHaveLength(r.report.rows.length);
      expect(ledger.packages.get(r.sha256!)?.rows).toBe(4);
      expect(ledger.runs.get(r.runId)?.status).toBe('done');
      const report = await readFile(r.reportMarkdownPath, 'utf8');
      expect(report).toContain('What will leave this computer');
      expect(report).toContain('## Appendix: membership inference (measured on the mini bundle)');
    } finally {
      ledger.close();
    }
    expect(await treeFingerprint(data)).toBe(before);
  });

  it('matches folders to classes by the one rule (case, spaces, _ and -), with the operator\'s map, and lists what it found when nothing matches', async () => {
    // `Red_Circle`, `BLUE SQUARE`: the same classes by the rule; `triangles`: mapped by the operator; `misc`: left out.
    const messy = join(tmp, 'messy');
    await cp(join(data, 'red circle'), join(messy, 'Red_Circle'), { recursive: true });
    await cp(join(data, 'blue square'), join(messy, 'BLUE SQUARE'), { recursive: true });
    await cp(join(data, 'green triangle'), join(messy, 'triangles'), { recursive: true });
    await cp(join(data, 'yellow star'), join(messy, 'misc'), { recursive: true });
    const ledger = Ledger.open(join(tmp, 'l-classes.sqlite'));
    try {
      const r = await preparePackage(options(ledger, { dataDir: messy, classMap: { triangles: 'green triangle', misc: null }, device: 'auto' }));
      // Issue #15 item 8: the GPU note once in the report, though the encoder and CLIP both fell back.
      const gpuNotes = r.report.messages.filter((m) => m.startsWith('GPU execution provider unavailable'));
      expect(gpuNotes).toHaveLength(process.platform === 'linux' && !cudaProviderInstalled() ? 1 : gpuNotes.length > 0 ? 1 : 0);
      expect(r.report.rows.map((x) => x.label).sort()).toEqual(['blue square', 'green triangle', 'red circle']);
      // Prompts carry the study's class names, never the folder's spelling.
      expect(r.report.rows.flatMap((x) => x.prompts).join(' ')).not.toMatch(/Red_Circle|BLUE SQUARE|triangles/);
      expect(r.report.messages).toEqual(expect.arrayContaining(['Folder "BLUE SQUARE" is used as the class "blue square".', 'Folder "triangles" is used as the class "green triangle".']));
      const e = await preparePackage(options(ledger, { dataDir: messy, classMap: { 'Red_Circle': null, 'BLUE SQUARE': null, triangles: null, misc: null } })).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PrepareError);
      expect((e as PrepareError).message).toMatch(/Found: BLUE SQUARE \(8\), Red_Circle \(8\), misc \(8\), triangles \(8\)\./);
      expect((e as PrepareError).hint).toMatch(/map each folder to a class/);
      await expect(preparePackage(options(ledger, { dataDir: messy, classMap: { misc: 'purple' } }))).rejects.toThrow(/"misc" is mapped to "purple", which is not a class of the study/);
    } finally {
      ledger.close();
    }
  });

  it('streams rows that are the mean conditioning of their members (F32, one row per class), hashed as written', async () => {
    const ledger = Ledger.open(join(tmp, 'l8.sqlite'));
    const encoder = await loadTextEncoder(models.generator.dir, { device: 'cpu' });
    try {
      const r = await preparePackage(options(ledger, { dtype: 'F32' }));
      const bytes = new Uint8Array(await readFile(r.packagePath));
      expect(bytes.length).toBe(r.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(r.sha256);
      const pkg = decodePackage(bytes);
      const perRow = 77 * pkg.dim;
      // One study template: every member of a class row has the same prompt, so the mean is its vector.
      const expected = await encoder.encode(classes.map((c) => DEFAULT_CLASS_TEMPLATE.replace('{class}', c)));
      for (let j = 0; j < pkg.n; j++) {
        const label = pkg.labels[j]!;
        const got = pkg.conditioning.subarray(j * perRow, (j + 1) * perRow);
        const want = expected.subarray(label * perRow, (label + 1) * perRow);
        let maxDiff = 0;
        for (let i = 0; i < perRow; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
        expect(maxDiff).toBeLessThan(1e-5);
      }
      expect([...pkg.labels].sort()).toEqual([0, 1, 2, 3]);
      // ε 8: σ of the noisy counts 0.85, so classes of ~8 images clear the threshold k + 2σ ≈ 4.7.
      const withDp = await prepareAndApprove(options(ledger, { dtype: 'F32', dpEpsilon: 8, rng: seededRng(1) }));
      const noisy = decodePackage(new Uint8Array(await readFile(withDp.packagePath)));
      expect(noisy.n).toBe(4);
      expect(noisy.metadata.dp_sigma).toBe(withDp.report.dp?.sigmaMax);
      expect(noisy.metadata.dp_adjacency).toBe('add-remove-one-unit');
      expect(noisy.metadata.dp_threshold).toBeCloseTo(withDp.report.dp!.threshold, 10);
      // Counts are the rounded noisy counts, inside the mechanism (not the exact units of the report).
      for (let j = 0; j < noisy.n; j++) expect(Math.abs(noisy.counts[j]! - withDp.report.rows[noisy.labels[j]!]!.units)).toBeLessThanOrEqual(4);
      expect(withDp.report.dp?.statement).toMatch(/\(ε = 8, δ = 0\.00001\)-differential privacy for adding or removing one distinct picture .* over the whole package: rows, counts and which bins are sent/);
      expect(await readFile(withDp.reportMarkdownPath, 'utf8')).toMatch(/Not covered: the public bin list/);
      expect(noisy.conditioning.subarray(0, perRow)).not.toEqual(pkg.conditioning.subarray(0, perRow));
      expect((await readdir(join(withDp.packagePath, '..'))).filter((f) => f.endsWith('.part'))).toEqual([]);
    } finally {
      await encoder.dispose();
      ledger.close();
    }
  });

  it('reuses cached CLIP features on a rerun (resumable) and aggregates clusters of at least k', async () => {
    const ledger = Ledger.open(join(tmp, 'l2.sqlite'));
    try {
      await preparePackage(options(ledger, { promptMode: 'vocabulary', aggregation: 'cluster' }));
      const events: ProgressEvent[] = [];
      const r = await preparePackage(options(ledger, { promptMode: 'vocabulary', aggregation: 'cluster', onProgress: (p) => events.push(p) }));
      const embed = events.filter((e) => e.stage === 'embed-images');
      expect(embed.at(-1)).toMatchObject({ total: 0 });
      expect(embed.at(-1)?.message).toMatch(/all 32 from cache/);
      for (const row of r.report.rows) expect(row.images).toBeGreaterThanOrEqual(3);
      expect(r.report.rows.reduce((a, x) => a + x.images, 0)).toBe(32);
      for (const row of r.report.rows) expect(row.units).toBeGreaterThanOrEqual(3);
    } finally {
      ledger.close();
    }
  });

  it('captions images for instance prompts and runs the PHI scrub on every caption', async () => {
    const ledger = Ledger.open(join(tmp, 'l3.sqlite'));
    try {
      const r = await preparePackage(options(ledger, { promptMode: 'instance', aggregation: 'class' }));
      expect(r.report.phi?.captions).toBe(32);
      expect(r.report.rows.every((x) => x.checks.some((c) => c.name === 'phi-scrub'))).toBe(true);
    } finally {
      ledger.close();
    }
  });

  it('instance packages say k = 1 in the header, and the report says the study waived the k check', async () => {
    const ledger = Ledger.open(join(tmp, 'l9.sqlite'));
    try {
      const instanceStudy = { ...study, privacy: { ...study.privacy, allowInstance: true } };
      const r = await preparePackage(options(ledger, { study: instanceStudy, aggregation: 'instance' }));
      const pkg = decodePackage(new Uint8Array(await readFile(r.packagePath)));
      expect(pkg.metadata.k).toBe(1);
      expect(r.report.settings.k).toBe(1);
      const k = r.report.rows[0]!.checks.find((c) => c.name === 'k-cohort')!;
      expect(k.detail).toMatch(/waived by the study/);
    } finally {
      ledger.close();
    }
  });

  it('refuses a local encoder that is not the study’s, before any work, and records the failed run', async () => {
    const ledger = Ledger.open(join(tmp, 'l4.sqlite'));
    try {
      const wrong = { ...study, encoder: { ...study.encoder, sha256: 'f'.repeat(64) } };
      await expect(preparePackage(options(ledger, { study: wrong }))).rejects.toBeInstanceOf(EncoderMismatchError);
      expect(ledger.runs.list()[0]?.status).toBe('failed');
      expect(ledger.packages.list()).toHaveLength(0);
    } finally {
      ledger.close();
    }
  });

  it('accumulates ε per image content and refuses the package that would exceed the budget', async () => {
    const ledger = Ledger.open(join(tmp, 'l5.sqlite'));
    const dpStudy = { ...study, privacy: { ...study.privacy, maxEpsilon: 12 } };
    try {
      await expect(preparePackage(options(ledger, { study: dpStudy }))).rejects.toThrow(/requires differential privacy/);
      const first = await prepareAndApprove(options(ledger, { study: dpStudy, dpEpsilon: 8, rng: seededRng(2) }));
      expect(first.report.dp).toMatchObject({ epsilon: 8, spentBefore: 0, totalAfter: 8, budget: 12 });
      const p1 = decodePackage(new Uint8Array(await readFile(first.packagePath)));
      expect(p1.metadata.dp_epsilon).toBe(8);
      const second = prepareAndApprove(options(ledger, { study: dpStudy, dpEpsilon: 8, rng: seededRng(3) }));
      await expect(second).rejects.toBeInstanceOf(PrepareError);
      await expect(second).rejects.toThrow(/only 4 of the budget 12 is left for these images/);
      expect(ledger.dp.spent(first.datasetId)).toBe(8);
    } finally {
      ledger.close();
    }
  });

  it('refuses site settings looser than the study and instance rows the study forbids', async () => {
    const ledger = Ledger.open(join(tmp, 'l6.sqlite'));
    try {
      await expect(preparePackage(options(ledger, { k: 2 }))).rejects.toThrow(/looser than the study allows: k 2 < study's 3/);
      await expect(preparePackage(options(ledger, { aggregation: 'instance' }))).rejects.toThrow(/does not allow one row per image/);
    } finally {
      ledger.close();
    }
  });

  it('stops promptly when cancelled and records the run as cancelled', async () => {
    const ledger = Ledger.open(join(tmp, 'l7.sqlite'));
    const ac = new AbortController();
    try {
      const run = preparePackage(options(ledger, { signal: ac.signal, onProgress: (p) => p.stage === 'scan' && ac.abort(new Error('stop')) }));
      await expect(run).rejects.toThrow();
      expect(ledger.runs.list()[0]?.status).toBe('cancelled');
      expect(ledger.packages.list()).toHaveLength(0);
    } finally {
      ledger.close();
    }
  });
});
