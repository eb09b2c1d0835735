import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureServerTls } from '../../../src/server/tls/server-tls';
import {
  type DicomwebImportOptions,
  type DicomwebImportResult,
  type DicomwebQuery,
  importFromDicomweb,
} from '../../../src/site/import/dicomweb-import';
import { scanDataset } from '../../../src/site/dataset/scan-dataset';
import { Ledger } from '../../../src/site/ledger/ledger';
import { preparePackage } from '../../../src/site/prepare/prepare-package';
import { decodePackage } from '../../../src/shared/embedding-package';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import type { ProgressEvent } from '../../../src/shared/progress';
import { getTinyModels } from '../../helpers/tiny-models';
import { DICOM_IDENTIFIERS } from '../../helpers/dicom-dataset';
import { type OrthancServer, startOrthanc } from '../../helpers/orthanc';
import { pydicomTestFiles } from '../../helpers/pydicom-test-files';
import { spawnTsChild } from '../../helpers/child-process';

// Distinct SOP instances (Orthanc keeps one copy per SOP Instance UID).
const FILES = [
  'CT_small.dcm',
  '693_J2KI.dcm',
  'J2K_pixelrep_mismatch.dcm',
  'MR_small.dcm',
  'JPEG2000.dcm',
];
const CT = ['CT_small.dcm', '693_J2KI.dcm', 'J2K_pixelrep_mismatch.dcm'];

let tmp: string;
let orthanc: OrthancServer;
let caPem: string;
let otherCaPem: string;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const originals = new Map<string, string>();

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'fgl-dicomweb-'));
  const tls = await ensureServerTls(path.join(tmp, 'tls'), { host: '127.0.0.1' });
  caPem = tls.caCertPem;
  otherCaPem = (await ensureServerTls(path.join(tmp, 'tls-other'), { host: '127.0.0.1' }))
    .caCertPem;
  orthanc = await startOrthanc(path.join(tmp, 'orthanc'), tls);
  for (const f of FILES) {
    const bytes = await readFile(path.join(pydicomTestFiles(), f));
    originals.set(sha(bytes), f);
    await orthanc.upload(bytes);
  }
}, 120_000);
afterAll(async () => {
  await orthanc?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** An import from the test Orthanc with its credentials and pinned CA (`over` replaces them). */
function fromOrthanc(
  query: DicomwebQuery,
  outDir: string,
  over: Partial<DicomwebImportOptions> = {},
): Promise<DicomwebImportResult> {
  return importFromDicomweb({
    url: orthanc.dicomweb,
    query,
    outDir,
    auth: { kind: 'basic', user: orthanc.user, password: orthanc.password },
    caPem,
    ...over,
  });
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

describe('fgl site import from a real Orthanc over DICOMweb (HTTPS, pinned CA, basic auth)', () => {
  it('lands exactly the queried studies, byte for byte, read-only, under names that are no UID; resumes', async () => {
    const out = path.join(tmp, 'cache-ct');
    const events: ProgressEvent[] = [];
    const r = await fromOrthanc({ modality: 'CT' }, out, { onProgress: (p) => events.push(p) });
    expect(r).toMatchObject({ studies: 3, instances: 3, downloaded: 3, alreadyPresent: 0 });
    expect(events.at(-1)).toMatchObject({ stage: 'import', done: 3, total: 3 });
    const files = await listFiles(out);
    expect(files).toHaveLength(3);
    const landed = await Promise.all(files.map(async (f) => originals.get(sha(await readFile(f)))));
    expect(landed.sort()).toEqual([...CT].sort());
    for (const f of files) {
      expect((await stat(f)).mode & 0o777).toBe(0o444);
      expect(DICOM_IDENTIFIERS.some((id) => path.relative(out, f).includes(id))).toBe(false);
    }

    // Resume: nothing is fetched again; a lost file (and a leftover partial) is fetched once.
    const again = await fromOrthanc({ modality: 'CT' }, out);
    expect(again).toMatchObject({ downloaded: 0, alreadyPresent: 3 });
    await rm(files[0]!, { force: true });
    await writeFile(`${files[0]!}.partial`, 'cut off');
    const resumed = await fromOrthanc({ modality: 'CT' }, out);
    expect(resumed).toMatchObject({ downloaded: 1, alreadyPresent: 2 });
    expect((await listFiles(out)).sort()).toEqual([...files].sort());
  });

  it('filters by study description and date range', async () => {
    const bone = await fromOrthanc({ studyDescription: '*Bone*' }, path.join(tmp, 'cache-bone'));
    expect(bone).toMatchObject({ studies: 1, instances: 1 });
    const jan2004 = await fromOrthanc(
      { dateFrom: '20040101', dateTo: '20040131' },
      path.join(tmp, 'cache-date'),
    );
    expect(jan2004).toMatchObject({ studies: 1, instances: 1 }); // CT_small, 2004-01-19
  });

  it('refuses a PACS certificate from another CA, and wrong credentials, each with what to do', async () => {
    await expect(
      fromOrthanc({}, path.join(tmp, 'x1'), { caPem: otherCaPem }),
    ).rejects.toMatchObject({
      name: 'DicomwebImportError',
      message: expect.stringMatching(/does not chain to the pinned CA/),
      hint: expect.stringMatching(/--ca FILE/),
    });
    await expect(
      fromOrthanc({}, path.join(tmp, 'x2'), {
        auth: { kind: 'basic', user: orthanc.user, password: 'wrong' },
      }),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/refused the credentials \(401\)/),
      hint: expect.stringMatching(/FGL_DICOMWEB_PASSWORD/),
    });
    await expect(
      fromOrthanc({ dateFrom: '2024-01-01' }, path.join(tmp, 'x3')),
    ).rejects.toMatchObject({
      hint: expect.stringMatching(/YYYYMMDD/),
    });
  });

  it('prepares a package from the imported images (labels from Modality); no identifier in any byte written', async () => {
    const out = path.join(tmp, 'cache-all');
    await fromOrthanc({}, out);
    const scan = await scanDataset(out, { labelAttribute: 'Modality', k: 1 });
    expect(scan.classes).toEqual([
      { name: 'CT', count: 3 },
      { name: 'MR', count: 1 },
      { name: 'NM', count: 1 },
    ]);
    expect(scan.usable.map((u) => originals.get(u.sha256)).sort()).toEqual([...FILES].sort());
    const models = await describeModelsFolder((await getTinyModels()).root);
    const study = buildStudyManifest({ name: 'pacs', classes: ['CT', 'MR', 'NM'], models, k: 1 });
    const ledgerFile = path.join(tmp, 'ledger.sqlite');
    const ledger = Ledger.open(ledgerFile);
    const pkgDir = path.join(tmp, 'pkg');
    try {
      const r = await preparePackage({
        ledger,
        dataDir: out,
        labelAttribute: 'Modality',
        study,
        siteId: 'site-pacs0001',
        models: {
          clip: models.clip.dir,
          generator: models.generator.dir,
          captioner: null,
          tiny: true,
        },
        promptMode: 'class',
        aggregation: 'class',
        outDir: pkgDir,
        device: 'cpu',
      });
      const pkg = decodePackage(new Uint8Array(await readFile(r.packagePath)));
      expect([...pkg.counts].reduce((a, b) => a + b, 0)).toBe(5);
    } finally {
      ledger.close();
    }
    for (const f of [...(await listFiles(pkgDir)), ledgerFile]) {
      const bytes = await readFile(f);
      expect(
        DICOM_IDENTIFIERS.filter((id) => bytes.includes(Buffer.from(id, 'latin1'))),
        f,
      ).toEqual([]);
    }
  });

  it('works from the command line: fgl site import, password from the environment, then fgl site scan', async () => {
    const caFile = path.join(tmp, 'pacs-ca.pem');
    await writeFile(caFile, caPem);
    const out = path.join(tmp, 'cache-cli');
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const child = spawnTsChild('bin/fgl.mjs', args, { env });
      const exit = await child.exited;
      return { code: exit.code, text: child.lines.map((l) => l.text).join('\n') };
    };
    const missing = await run([
      'site',
      'import',
      '--dicomweb',
      orthanc.dicomweb,
      '--out',
      out,
      '--user',
      orthanc.user,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.text).toMatch(/FGL_DICOMWEB_PASSWORD/);
    const ok = await run(
      [
        'site',
        'import',
        '--dicomweb',
        orthanc.dicomweb,
        '--modality',
        'MR',
        '--out',
        out,
        '--user',
        orthanc.user,
        '--ca',
        caFile,
        '--json',
      ],
      { FGL_DICOMWEB_PASSWORD: orthanc.password },
    );
    expect(ok.code, ok.text).toBe(0);
    expect(ok.text).toMatch(/"downloaded":\s*1/);
    const scan = await run([
      'site',
      'scan',
      out,
      '--label-attribute',
      'seriesdescription',
      '--json',
    ]);
    // MR_small has no SeriesDescription: skipped with that reason, exit 1 (no usable image).
    expect(scan.code).toBe(1);
    expect(scan.text).toMatch(/no_label/);
  });

  it('sends a bearer token (a DICOMweb gateway on loopback that checks it), and says so when it is refused', async () => {
    const seen: (string | undefined)[] = [];
    const gateway = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (req.headers.authorization !== 'Bearer good-token') return res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/dicom-web`;
    try {
      const ok = await importFromDicomweb({
        url,
        query: {},
        outDir: path.join(tmp, 'bearer'),
        auth: { kind: 'bearer', token: 'good-token' },
      });
      expect(ok).toMatchObject({ studies: 0, instances: 0 });
      await expect(
        importFromDicomweb({
          url,
          query: {},
          outDir: path.join(tmp, 'bearer2'),
          auth: { kind: 'bearer', token: 'stale' },
        }),
      ).rejects.toMatchObject({ hint: expect.stringMatching(/FGL_DICOMWEB_TOKEN/) });
      expect(seen).toEqual(['Bearer good-token', 'Bearer stale']);
    } finally {
      await new Promise((resolve) => gateway.close(resolve));
    }
  });
});
