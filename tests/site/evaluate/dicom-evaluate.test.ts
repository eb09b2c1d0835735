import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClip } from '../../../src/core/inference/clip-model';
import { modelDigest } from '../../../src/core/models/model-digest';
import { scanDataset } from '../../../src/site/dataset/scan-dataset';
import { aggregateMetricsForServer } from '../../../src/site/evaluate/aggregate-metrics-for-server';
import { evaluateModel } from '../../../src/site/evaluate/evaluate-model';
import { Ledger } from '../../../src/site/ledger/ledger';
import { DICOM_IDENTIFIERS, buildDicomDataset } from '../../helpers/dicom-dataset';
import { getTinyModels } from '../../helpers/tiny-models';
import { embedFiles, makeServerKey, trainTinyProbe, writeSignedModel } from './evaluate-fixture';

const CLASSES = ['ct', 'mr', 'colour'];
let tmp: string;
let data: string;
let clipDir: string;
let modelDir: string;
const server = makeServerKey();

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'fgl-dicom-evaluate-'));
  data = join(tmp, 'data');
  await buildDicomDataset(data);
  clipDir = (await getTinyModels()).dirs.clip;
  const clip = await loadClip(clipDir, { device: 'cpu', batchSize: 16 });
  try {
    const scan = await scanDataset(data, { k: 1 });
    const feats = await embedFiles(
      clip,
      scan.usable.map((u) => join(data, u.path)),
    );
    const probe = await trainTinyProbe(
      feats,
      scan.usable.map((u) => CLASSES.indexOf(u.label)),
      CLASSES,
      0,
      5,
    );
    modelDir = join(tmp, 'model');
    await writeSignedModel(modelDir, probe, server.privateKey, {
      studyId: 'dicom',
      version: 1,
      classes: CLASSES,
      kind: 'probe',
      preprocessing: { input: 'clip-image-embeds', normalize: true },
      backbone: {
        id: 'fgl-tiny/clip',
        revision: 'main',
        sha256: await modelDigest(clipDir, 'clip'),
      },
    });
    probe.dispose();
  } finally {
    await clip.dispose();
  }
}, 120_000);
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('site evaluate on DICOM files (tiny probe)', () => {
  it('evaluates every usable DICOM image; no PatientName/PatientID/StudyInstanceUID in the reports or the metrics a site may share', async () => {
    const ledger = Ledger.open(join(tmp, 'ledger.sqlite'));
    let r;
    try {
      r = await evaluateModel({
        ledger,
        modelDir,
        trust: server.trust,
        dataDir: data,
        clipDir,
        device: 'cpu',
        outDir: join(tmp, 'eval'),
      });
    } finally {
      ledger.close();
    }
    expect(r.metrics.samples).toBe(19);
    expect(r.metrics.perClass.map((c) => c.support)).toEqual([3, 8, 8]);
    const outputs = [
      ...(await Promise.all(Object.values(r.reportPaths).map((p) => readFile(p)))),
      Buffer.from(JSON.stringify(aggregateMetricsForServer(r.metrics, 3))),
    ];
    for (const bytes of outputs)
      expect(DICOM_IDENTIFIERS.filter((id) => bytes.includes(Buffer.from(id, 'latin1')))).toEqual(
        [],
      );
  });
});
