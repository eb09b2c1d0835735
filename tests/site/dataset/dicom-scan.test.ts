import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanDataset } from '../../../src/site/dataset/scan-dataset';
import { ScanResult } from '../../../src/site/dataset/scan-result';
import { DICOM_DATASET, buildDicomDataset } from '../../helpers/dicom-dataset';
import { treeFingerprint } from '../../helpers/broken-images';

let tmp: string;
let data: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fgl-dicom-scan-'));
  data = path.join(tmp, 'data');
  await buildDicomDataset(data);
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('scan of real DICOM files (pydicom test data) in class folders', () => {
  it('uses every decodable image and gives every other file its precise reason, writing nothing', async () => {
    const before = await treeFingerprint(data);
    const r = await scanDataset(data, { k: 1 });
    expect(ScanResult.parse(r)).toEqual(r);
    const usable = Object.entries(DICOM_DATASET)
      .filter(([, f]) => !f.reason)
      .map(([p]) => p)
      .sort();
    expect(r.usable.map((u) => u.path)).toEqual(usable);
    expect(r.usable.every((u) => u.format === 'dicom' && !u.note)).toBe(true);
    for (const [p, f] of Object.entries(DICOM_DATASET).filter(([, f]) => f.reason)) {
      const s = r.skipped.find((x) => x.path === p);
      expect(s, p).toBeDefined();
      expect(s!.reason, `${p}: ${s!.detail}`).toBe(f.reason);
      if (f.detail) expect(s!.detail, p).toMatch(f.detail);
    }
    expect(r.skipped).toHaveLength(Object.values(DICOM_DATASET).filter((f) => f.reason).length);
    expect(r.classes).toEqual([
      { name: 'colour', count: 8 },
      { name: 'ct', count: 3 },
      { name: 'mr', count: 8 },
    ]);
    expect(await treeFingerprint(data)).toBe(before);
  });

  it('records the patient (DICOM PatientID) and flags burned-in text (ultrasound, secondary capture)', async () => {
    const r = await scanDataset(data, { k: 1 });
    const by = new Map(r.usable.map((u) => [u.path, u]));
    expect(by.get('ct/CT_small.dcm')).toMatchObject({ patientId: '1CT1', width: 128, height: 128 });
    expect(by.get('ct/CT_small.dcm')!.burnedInText).toBeUndefined();
    expect(by.get('mr/MR_small_RLE')!.patientId).toBe('4MR1');
    expect(by.get('colour/ExplVR_BigEnd.dcm')!.burnedInText).toBe(true); // US
    expect(by.get('colour/SC_rgb_rle_2frame.dcm')!.burnedInText).toBe(true); // secondary capture
    expect(by.get('colour/image_dfl.dcm')!.patientId).toBeUndefined(); // empty PatientID
  });

  it('labels by a DICOM attribute the user names, at any depth, with a reason for files without it', async () => {
    const r = await scanDataset(data, { k: 1, labelAttribute: 'Modality' });
    expect(r.classes).toEqual([
      { name: 'CT', count: 3 },
      { name: 'MR', count: 7 },
      { name: 'NM', count: 1 },
      { name: 'OT', count: 7 },
      { name: 'US', count: 1 },
    ]);
    const bySeries = await scanDataset(data, { k: 1, labelAttribute: 'SeriesDescription' });
    expect(bySeries.usable.map((u) => [u.path, u.label])).toEqual([
      ['ct/693_J2KI', '5/5mm Plain'],
      ['ct/J2K_pixelrep_mismatch.dcm', 'Lv2'],
    ]);
    expect(bySeries.skipped.find((s) => s.path === 'mr/MR_small.dcm')).toMatchObject({
      reason: 'no_label',
      detail: 'has no SeriesDescription to label it by',
    });
  });

  it('labels from a manifest keyed by SOPInstanceUID, with its patient_id column as the patient', async () => {
    const manifest = path.join(data, 'labels.csv');
    await writeFile(
      manifest,
      [
        'sop_instance_uid,label,patient_id',
        '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322,abnormal,P-7',
        '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457,normal,P-8',
      ].join('\n'),
    );
    try {
      const r = await scanDataset(data, { k: 1, manifest });
      expect(r.layout).toBe('manifest');
      const byLabel = Object.fromEntries(r.classes.map((c) => [c.name, c.count]));
      expect(byLabel.abnormal).toBe(1);
      // MR_small and its re-encodings share one SOP Instance UID.
      expect(byLabel.normal).toBeGreaterThanOrEqual(1);
      expect(r.usable.find((u) => u.path === 'ct/CT_small.dcm')).toMatchObject({
        label: 'abnormal',
        patientId: 'P-7',
      });
      expect(r.skipped.find((s) => s.path === 'labels.csv')).toBeUndefined();
      expect(r.skipped.find((s) => s.path === 'colour/SC_rgb_rle_16bit.dcm')).toMatchObject({
        reason: 'no_label',
        detail: 'its SOP Instance UID is not in the manifest',
      });
    } finally {
      await rm(manifest);
    }
  });

  it('takes the patient from a path manifest’s patient_id column over the DICOM PatientID', async () => {
    const manifest = path.join(data, 'by-path.csv');
    await writeFile(
      manifest,
      [
        'path,label,patient_id',
        'ct/CT_small.dcm,abnormal,P-1',
        'mr/MR_small.dcm,normal,',
        'study.png,normal,P-2',
      ].join('\n'),
    );
    try {
      const r = await scanDataset(data, { k: 1, manifest });
      const by = new Map(r.usable.map((u) => [u.path, u]));
      expect(by.get('ct/CT_small.dcm')!.patientId).toBe('P-1');
      expect(by.get('mr/MR_small.dcm')!.patientId).toBe('4MR1'); // empty column: DICOM PatientID
      expect(r.skipped.find((s) => s.path === 'study.png')?.reason).toBe('missing');
    } finally {
      await rm(manifest);
    }
  });
});
