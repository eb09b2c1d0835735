/**
 * Stages 3–4 of prepare: one prompt per image (build-prompts.ts, with the PHI scrub's summary),
 * then the study's conditioning encoder and CLIP's text tower over the distinct prompts.
 */
import type { PrivacyPolicy, PromptMode, StudyManifest } from '../../shared/study';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { loadDefaultPhiNames } from '../site-resources';
import type { SiteModels } from '../prepare/site-models';
import { PrepareError } from '../prepare/prepare-error';
import { buildPrompts, type BuiltPrompts } from './build-prompts';

/** Images that may show burned-in text (names, dates) are not captioned unless asked for. */
export const skipsCaption = (img: { burnedInText?: true }, captionBurnedIn: boolean | undefined) => img.burnedInText === true && !captionBurnedIn;

export type PromptedImages = BuiltPrompts & {
  /** The distinct prompts, their [77·D] conditioning and their CLIP text embedding. */
  distinct: string[];
  cond: Map<string, Float32Array>;
  textClip: Map<string, Float32Array>;
  messages: string[];
};

export async function promptStage(o: {
  study: StudyManifest;
  promptMode: PromptMode;
  images: readonly { label: string; burnedInText?: true }[];
  /** Each image's CLIP embedding, and its caption (instance prompts). */
  clip: readonly Float32Array[];
  captions: readonly string[] | null;
  models: Pick<SiteModels, 'clip' | 'encoder'>;
  phiAction: PrivacyPolicy['phiAction'];
  phiNames?: ReadonlySet<string> | undefined;
  captionBurnedIn?: boolean | undefined;
  vocabularyTop?: number | undefined;
  batch: number;
  signal?: AbortSignal | undefined;
  progress: ProgressListener;
}): Promise<PromptedImages> {
  if (o.promptMode === 'vocabulary' && o.study.prompts.vocabulary.length === 0)
    throw new PrepareError('The study has no controlled vocabulary for vocabulary prompts', 'Use --prompts class, or ask the coordinator to add a vocabulary.');
  const skip = o.images.map((img) => skipsCaption(img, o.captionBurnedIn));
  const burnedIn = skip.filter(Boolean).length;
  const messages =
    o.promptMode === 'instance' && burnedIn > 0
      ? [`${burnedIn} image(s) may carry burned-in text (DICOM BurnedInAnnotation, ultrasound or secondary capture): not captioned, they use the class prompt.`]
      : [];
  const built = buildPrompts({
    study: o.study,
    promptMode: o.promptMode,
    labels: o.images.map((img) => img.label),
    ...(o.promptMode === 'vocabulary' ? { vocabulary: { imageClip: o.clip, phraseClip: await o.models.clip.embedTexts(o.study.prompts.vocabulary), top: o.vocabularyTop ?? 3 } } : {}),
    ...(o.promptMode === 'instance' ? { captions: { texts: o.captions!, names: o.phiNames ?? (await loadDefaultPhiNames()), action: o.phiAction, skip } } : {}),
  });
  const distinct = [...new Set(built.prompts)];
  const rowLen = 77 * o.models.encoder.dim;
  const cond = new Map<string, Float32Array>();
  const textClip = new Map<string, Float32Array>();
  const meter = createProgressMeter('encode-prompts', distinct.length, o.progress);
  for (let s = 0; s < distinct.length; s += o.batch) {
    o.signal?.throwIfAborted();
    const chunk = distinct.slice(s, s + o.batch);
    const out = await o.models.encoder.encode(chunk);
    const clipT = await o.models.clip.embedTexts(chunk);
    chunk.forEach((p, j) => {
      cond.set(p, out.slice(j * rowLen, (j + 1) * rowLen));
      textClip.set(p, clipT[j]!);
    });
    meter.advance(chunk.length);
  }
  return { ...built, distinct, cond, textClip, messages };
}
