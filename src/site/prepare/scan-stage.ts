/**
 * Stage 1 of prepare: scan the folder (streamed, read-only), record what was found in the ledger,
 * and keep the images of the study's classes under the study's class names (one class-name rule
 * with evaluate and the UI, then the operator's folder → class map).
 */
import { join } from 'node:path';
import type { LabelAttribute } from '../../core/image/dicom/read-dicom';
import { matchLabels, type ClassMap } from '../../shared/class-names';
import type { ProgressListener } from '../../shared/progress';
import type { StudyManifest } from '../../shared/study';
import { scanDataset } from '../dataset/scan-dataset';
import type { ScanResult } from '../dataset/scan-result';
import type { Ledger } from '../ledger/ledger';
import { imageSignatureOfFile } from '../privacy/perceptual-hash';
import { groupPrivacyUnits, type PrivacyUnits } from '../privacy/privacy-units';
import { PrepareError } from './prepare-error';

export type StudyImage = ScanResult['usable'][number];

export async function scanStage(o: {
  ledger: Ledger;
  datasetId: number;
  root: string;
  manifest?: string | undefined;
  labelAttribute?: LabelAttribute | undefined;
  study: StudyManifest;
  classMap?: ClassMap | undefined;
  k: number;
  signal?: AbortSignal | undefined;
  progress: ProgressListener;
}): Promise<{ scan: ScanResult; images: StudyImage[]; messages: string[] }> {
  const scan = await scanDataset(o.root, {
    ...(o.manifest ? { manifest: o.manifest } : {}),
    ...(o.labelAttribute ? { labelAttribute: o.labelAttribute } : {}),
    k: o.k,
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (p) => o.progress({ stage: 'scan', done: p.done, total: p.total, ratePerSec: p.ratePerSec, etaSec: p.etaSec }),
  });
  const scanRow = o.ledger.scans.start(o.datasetId);
  o.ledger.images.replaceForDataset(
    o.datasetId,
    scanRow.id,
    // Skipped files have no content hash; they are kept in the scan summary instead.
    scan.usable.map((u) => ({ relPath: u.path, contentSha256: u.sha256, label: u.label, bytes: u.bytes, width: u.width, height: u.height, status: 'usable' as const, skipReason: null })),
  );
  o.ledger.scans.finish(scanRow.id, { images: scan.images, classes: scan.classes, skipped: scan.skipped.map((x) => ({ path: x.path, reason: x.reason })) });
  const unknownTarget = Object.entries(o.classMap ?? {}).find(([, c]) => c !== null && !o.study.classes.includes(c));
  if (unknownTarget)
    throw new PrepareError(`The folder "${unknownTarget[0]}" is mapped to "${unknownTarget[1]}", which is not a class of the study (${o.study.classes.join(', ')}).`, 'Map it to one of the study\'s classes, or leave it out.');
  const counts = new Map<string, number>();
  for (const u of scan.usable) counts.set(u.label, (counts.get(u.label) ?? 0) + 1);
  const match = matchLabels(counts, o.study.classes, o.classMap);
  // From here on an image's label is the study's class name: a folder's own spelling never leaves.
  const images = scan.usable.flatMap((u) => {
    const i = match.index.get(u.label);
    return i === undefined ? [] : [{ ...u, label: o.study.classes[i]! }];
  });
  const messages: string[] = [];
  for (const r of match.renamed) messages.push(`Folder "${r.label}" is used as the class "${r.class}".`);
  if (match.excluded.length > 0) messages.push(`Ignored ${scan.usable.length - images.length} images in folders the study has no class for: ${match.excluded.map((e) => `${e.label} (${e.images})`).join(', ')}.`);
  if (images.length === 0) {
    const found = match.excluded.map((e) => `${e.label} (${e.images})`).join(', ');
    throw new PrepareError(
      `No usable images of the study's classes (${o.study.classes.join(', ')}) in ${o.root}. ${found ? `Found: ${found}.` : 'It has no usable images at all.'}`,
      found ? 'Rename the folders to the study\'s class names (case, spaces, "_" and "-" do not matter), or map each folder to a class in the Prepare screen (CLI: --class-map "Folder=class,...").' : 'Check the folder layout: one sub-folder per class, named as in the study.',
    );
  }
  return { scan, images, messages };
}

/**
 * Stage 1b: privacy units, one per patient where the data names one, else one per distinct
 * picture (byte-identical and near-duplicate files count once).
 */
export async function unitsStage(o: { root: string; images: readonly StudyImage[]; patientKey: Buffer; machinePatientKey?: Buffer | undefined; signal?: AbortSignal | undefined }): Promise<{ units: PrivacyUnits; messages: string[] }> {
  const units = await groupPrivacyUnits(
    o.images,
    (i) =>
      imageSignatureOfFile(join(o.root, ...o.images[i]!.path.split('/')), o.signal).catch((e: unknown) => {
        if (o.signal?.aborted) throw e;
        return null; // changed since the scan: exact and patient matches still apply
      }),
    o.patientKey,
    o.signal,
    o.machinePatientKey,
  );
  const n = units.keys.length;
  return {
    units,
    messages:
      n < o.images.length
        ? [`${o.images.length} images are ${n} distinct ${units.kind === 'image' ? 'pictures' : 'patients/pictures'} (${units.merged.patient} same patient, ${units.merged.identical} identical copies, ${units.merged.nearDuplicate} near-duplicates): k and DP count each once.`]
        : [],
  };
}
