import type { StudyManifest } from '../../shared/study';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { loadClip, type ClipModel } from '../../core/inference/clip-model';
import { loadTextEncoder, type TextEncoder } from '../../core/inference/text-encoder';
import { loadCaptioner, type Captioner } from '../../core/inference/captioner';
import { modelDigest } from '../../core/models/model-digest';

/** `encoder`: the conditioning encoder's folder (text_encoder/ + tokenizer/) when apart from the generator's. */
export type SiteModelDirs = { clip: string; generator: string; captioner?: string | null; encoder?: string };

export type SiteModels = {
  clip: ClipModel;
  clipDigest: string;
  encoder: TextEncoder;
  /** Loaded on first use: captioning is the expensive, optional part. */
  captioner(): Promise<Captioner>;
  /** One line per model on which device it runs, fallbacks included (for reports). */
  devices: Record<string, string>;
  messages: string[];
  dispose(): Promise<void>;
};

/** Thrown before any work when the local encoder is not byte-for-byte the study's. */
export class EncoderMismatchError extends Error {
  readonly hint = "Install the generator the study names (same id and revision), or ask the study coordinator which encoder to use; embeddings from another encoder would be meaningless to the server's UNet.";
  constructor(local: string, study: StudyManifest) {
    super(`The local conditioning encoder (sha256 ${local.slice(0, 12)}…) is not the study's ${study.encoder.id} (sha256 ${study.encoder.sha256.slice(0, 12)}…). Refusing to run.`);
    this.name = 'EncoderMismatchError';
  }
}

export async function loadSiteModels(dirs: SiteModelDirs, study: StudyManifest, device: DeviceChoice): Promise<SiteModels> {
  const encoder = await loadTextEncoder(dirs.encoder ?? dirs.generator, { device });
  if (encoder.digest !== study.encoder.sha256) {
    await encoder.dispose();
    throw new EncoderMismatchError(encoder.digest, study);
  }
  if (encoder.dim !== study.encoder.dim) {
    await encoder.dispose();
    throw new Error(`The local encoder produces D=${encoder.dim}, the study expects D=${study.encoder.dim}`);
  }
  const clip = await loadClip(dirs.clip, { device });
  const clipDigest = await modelDigest(dirs.clip, 'clip');
  // The encoder and CLIP fall back for the same reason: the report says it once.
  const messages = [...new Set([encoder.fallbackMessage, clip.fallbackMessage].filter((m): m is string => Boolean(m)))];
  if (study.clip.sha256 && study.clip.sha256 !== clipDigest)
    messages.push(`Local CLIP (sha256 ${clipDigest.slice(0, 12)}…) differs from the study's ${study.clip.id}; privacy checks still run, but vocabulary prompts may differ from other sites'.`);
  const devices: Record<string, string> = { encoder: encoder.device, clip: clip.device };
  let captioner: Promise<Captioner> | undefined;
  return {
    clip,
    clipDigest,
    encoder,
    devices,
    messages,
    captioner() {
      if (!dirs.captioner) return Promise.reject(new Error('No captioner model is available: instance prompts need one (--models DIR with captioner/).'));
      captioner ??= loadCaptioner(dirs.captioner, { device }).then((c) => {
        devices.captioner = c.device;
        if (c.fallbackMessage && !messages.includes(c.fallbackMessage)) messages.push(c.fallbackMessage);
        return c;
      });
      return captioner;
    },
    async dispose() {
      await Promise.all([encoder.dispose(), clip.dispose(), captioner?.then((c) => c.dispose())]);
    },
  };
}
