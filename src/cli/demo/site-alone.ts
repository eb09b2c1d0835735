import { loadClip } from '../../core/inference/clip-model';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { l2Normalize } from '../../core/tfjs/l2-normalize';
import { predictProbabilities } from '../../core/tfjs/predict-probabilities';
import { loadTf } from '../../core/tfjs/tfjs-backend';
import type { TrainingSettings } from '../../shared/study';
import { scanDataset } from '../../site/dataset/scan-dataset';
import type { ScannedImage } from '../../site/dataset/scan-result';
import { computeMetrics, type Metrics } from '../../site/evaluate/classification-metrics';
import type { Ledger } from '../../site/ledger/ledger';
import { computeLocalFeatures } from '../../site/prepare/local-features';
import { trainProbe } from '../../server/training/probe-trainer';

export type SiteAloneOptions = {
  ledger: Ledger;
  clipDir: string;
  clipDigest: string;
  device: DeviceChoice;
  /** The site's own labelled images (what it prepared its package from) and its held-out part. */
  trainDir: string;
  evalDir: string;
  classes: readonly string[];
  /** The study's training settings: the same probe, the same recipe, only the data differ. */
  settings: TrainingSettings;
  signal?: AbortSignal;
};

/** L2-normalised CLIP features and class indices of an ImageFolder's images of `o.classes` (cached in the site's ledger), with the images they belong to. */
export async function folderFeatures(
  o: Pick<SiteAloneOptions, 'ledger' | 'clipDigest' | 'classes' | 'signal'>,
  dir: string,
  clip: Awaited<ReturnType<typeof loadClip>>,
): Promise<{ features: Float32Array[]; labels: number[]; images: ScannedImage[] }> {
  const scan = await scanDataset(dir, o.signal ? { signal: o.signal } : {});
  const index = new Map(o.classes.map((c, i) => [c, i]));
  const images = scan.usable.filter((u) => index.has(u.label));
  // The site's ledger cache: these are the very features prepare and evaluate computed.
  const f = await computeLocalFeatures({
    root: scan.root,
    images,
    ledger: o.ledger,
    clip,
    clipDigest: o.clipDigest,
    batchSize: 32,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { features: f.clip.map(l2Normalize), labels: images.map((u) => index.get(u.label)!), images };
}

/**
 * The baseline a site gets without any federation: the study's probe trained on its own images
 * only, evaluated on its own held-out images. A class it holds few or no images of, it cannot
 * learn; that gap is what the federation must close.
 */
export async function siteAloneMetrics(o: SiteAloneOptions): Promise<Metrics> {
  const clip = await loadClip(o.clipDir, { device: o.device });
  let train: Awaited<ReturnType<typeof folderFeatures>>;
  let held: Awaited<ReturnType<typeof folderFeatures>>;
  try {
    train = await folderFeatures(o, o.trainDir, clip);
    held = await folderFeatures(o, o.evalDir, clip);
  } finally {
    await clip.dispose();
  }
  const loaded = await loadTf();
  const r = await trainProbe({
    features: train.features,
    labels: train.labels,
    classes: [...o.classes],
    settings: o.settings,
    tf: loaded,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  try {
    return computeMetrics(
      predictProbabilities(loaded.tf, r.model, held.features),
      held.labels,
      o.classes,
    );
  } finally {
    r.model.dispose();
  }
}
