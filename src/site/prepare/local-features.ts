import { join } from 'node:path';
import { decodeImage } from '../../core/image/decode-image';
import type { ClipModel } from '../../core/inference/clip-model';
import type { Captioner } from '../../core/inference/captioner';
import type { RgbImage } from '../../core/inference/rgb-image';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import type { Ledger } from '../ledger/ledger';

/** Enough for common image-to-text processors; they resize to their own input from here. */
const CAPTION_SHORT_SIDE = 384;

/** `noCaption`: never captioned (it may show burned-in text); its caption is ''. */
export type LocalImage = { path: string; sha256: string; label: string; noCaption?: boolean };

/**
 * CLIP embeddings (and, for instance prompts, captions) of every image, from the ledger's cache
 * where present; new ones are computed in batches and stored batch by batch, so a killed run
 * resumes where it stopped. Images are decoded once per batch and dropped after it.
 */
export async function computeLocalFeatures(o: {
  root: string;
  images: readonly LocalImage[];
  ledger: Ledger;
  clip: ClipModel;
  clipDigest: string;
  captioner?: { model: () => Promise<Captioner>; digest: string };
  batchSize: number;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
}): Promise<{ clip: Float32Array[]; captions: string[] | null; cached: { clip: number; captions: number } }> {
  const shas = o.images.map((i) => i.sha256);
  const clipCache = o.ledger.embeddings.getMany(shas, o.clipDigest);
  const captionCache = o.captioner ? o.ledger.captions.getMany(shas, o.captioner.digest) : new Map<string, string>();
  const wantsCaption = (i: LocalImage) => o.captioner !== undefined && !i.noCaption && !captionCache.has(i.sha256);
  const todo = o.images.filter((i) => !clipCache.has(i.sha256) || wantsCaption(i));
  // Cached images cost nothing: progress, rate and ETA cover only the images still to embed.
  const meter = createProgressMeter('embed-images', todo.length, o.onProgress);
  if (todo.length === 0) meter.advance(0, `all ${o.images.length} from cache`);
  const cached = { clip: clipCache.size, captions: captionCache.size };
  for (let start = 0; start < todo.length; start += o.batchSize) {
    o.signal?.throwIfAborted();
    const batch = todo.slice(start, start + o.batchSize);
    const decoded: RgbImage[] = [];
    for (const img of batch) {
      // Decoded straight to CLIP's input side: its processor's resize is then a no-op (one resample, not two),
      // and memory stays bounded for huge scans.
      const d = await decodeImage(join(o.root, ...img.path.split('/')), { resizeShortSide: o.clip.inputSize, signal: o.signal });
      decoded.push({ data: d.data, width: d.width, height: d.height, channels: 3 });
    }
    const needClip = batch.map((b, i) => (clipCache.has(b.sha256) ? -1 : i)).filter((i) => i >= 0);
    if (needClip.length > 0) {
      const vecs = await o.clip.embedImages(needClip.map((i) => decoded[i]!));
      const entries = needClip.map((i, j) => ({ contentSha256: batch[i]!.sha256, vector: vecs[j]! }));
      o.ledger.embeddings.putMany(o.clipDigest, entries);
      for (const e of entries) clipCache.set(e.contentSha256, e.vector);
    }
    if (o.captioner) {
      const needCap = batch.map((b, i) => (wantsCaption(b) ? i : -1)).filter((i) => i >= 0);
      if (needCap.length > 0) {
        const captioner = await o.captioner.model();
        // Captioners read larger inputs than CLIP (vit-gpt2: 224, BLIP-style: 384): decode again
        // for them rather than hand over CLIP-sized pixels or change CLIP's (cached) input.
        const capImages: RgbImage[] = [];
        for (const i of needCap) {
          const d = await decodeImage(join(o.root, ...batch[i]!.path.split('/')), { resizeShortSide: CAPTION_SHORT_SIDE, signal: o.signal });
          capImages.push({ data: d.data, width: d.width, height: d.height, channels: 3 });
        }
        const caps = await captioner.caption(capImages);
        const entries = needCap.map((i, j) => ({ contentSha256: batch[i]!.sha256, caption: caps[j] ?? '' }));
        o.ledger.captions.putMany(o.captioner.digest, entries);
        for (const e of entries) captionCache.set(e.contentSha256, e.caption);
      }
    }
    meter.advance(batch.length);
  }
  return {
    clip: o.images.map((i) => clipCache.get(i.sha256)!),
    captions: o.captioner ? o.images.map((i) => (i.noCaption ? '' : (captionCache.get(i.sha256) ?? ''))) : null,
    cached,
  };
}
