import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage } from '../../../src/shared/embedding-package';
import type { StudyManifest } from '../../../src/shared/study';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder, type ModelsFolder } from '../../../src/cli/study/models-folder';
import { Ledger } from '../../../src/site/ledger/ledger';
import { type PrepareOptions, preparePackage } from '../../../src/site/prepare/prepare-package';
import { getTinyModels } from '../../helpers/tiny-models';
import { DICOM_IDENTIFIERS, buildDicomDataset } from '../../helpers/dicom-dataset';

let tmp: string;
let data: string;
let models: ModelsFolder;
let study: StudyManifest;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fgl-dicom-prepare-'));
  data = join(tmp, 'data');
  await buildDicomDataset(data);
  models = await describeModelsFolder((await getTinyModels()).root);
  study = buildStudyManifest({ name: 'dicom test', classes: ['ct', 'mr', 'colour'], models, k: 3 });
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** Instance prompts (captions) with the tiny models. */
function instancePrompts(ledger: Ledger, outDir: string): PrepareOptions {
  return {
    ledger,
    dataDir: data,
    study,
    siteId: 'site-dicom0001',
    models: {
      clip: models.clip.dir,
      generator: models.generator.dir,
      captioner: models.captioner?.dir ?? null,
      tiny: true,
    },
    promptMode: 'instance',
    aggregation: 'class',
    outDir,
    device: 'cpu',
  };
}

/** Every file under `dir`, with its bytes. */
async function allFiles(dir: string): Promise<{ file: string; bytes: Buffer }[]> {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile())
      out.push({
        file: join(e.parentPath, e.name),
        bytes: await readFile(join(e.parentPath, e.name)),
      });
  return out;
}

describe('site prepare on DICOM files (tiny models)', () => {
  it('makes a package from the DICOM class folders; no PatientName/PatientID/StudyInstanceUID is in any byte it writes', async () => {
    const ledgerFile = join(tmp, 'ledger.sqlite');
    const ledger = Ledger.open(ledgerFile);
    const outDir = join(tmp, 'out');
    let r;
    try {
      r = await preparePackage(instancePrompts(ledger, outDir));
    } finally {
      ledger.close();
    }
    const pkg = decodePackage(new Uint8Array(await readFile(r.packagePath)));
    // The patient is the privacy unit (DICOM PatientID): pydicom's 8 MR files come from fewer
    // than k = 3 patients, so that class is not sent; CT and colour each stand for 3 units.
    expect(r.report.rows.map((x) => [x.label, x.units])).toEqual([
      ['ct', 3],
      ['colour', 3],
    ]);
    expect(pkg.n).toBe(2);
    expect(r.report.dataset.images).toBe(19);
    expect(r.report.messages.join('\n')).toMatch(/19 images are 8 distinct patients\/pictures \(11 same patient/);
    // Ultrasound and secondary-capture images may show burned-in text: not captioned.
    expect(r.report.messages.join('\n')).toMatch(/9 image\(s\) may carry burned-in text/);
    expect(r.report.phi?.captions).toBe(10);

    // Everything prepare wrote: the package (the exact bytes an upload sends), the privacy
    // reports (JSON + Markdown) and the local ledger.
    const written = [
      ...(await allFiles(outDir)),
      { file: ledgerFile, bytes: await readFile(ledgerFile) },
    ];
    expect(written.some((w) => w.file === r.packagePath)).toBe(true);
    const leaks = written.flatMap((w) =>
      DICOM_IDENTIFIERS.filter(
        (id) =>
          w.bytes.includes(Buffer.from(id, 'latin1')) ||
          w.bytes.includes(Buffer.from(id, 'utf16le')),
      ).map((id) => `${w.file}: ${id}`),
    );
    expect(leaks).toEqual([]);
  });

  it('captions burned-in images only when the operator opts in (--caption-burned-in)', async () => {
    const ledger = Ledger.open(join(tmp, 'ledger-opt-in.sqlite'));
    try {
      const r = await preparePackage({
        ...instancePrompts(ledger, join(tmp, 'out-opt-in')),
        captionBurnedIn: true,
      });
      expect(r.report.phi?.captions).toBe(19);
      expect(r.report.messages.join('\n')).not.toMatch(/burned-in/);
    } finally {
      ledger.close();
    }
  });
});
