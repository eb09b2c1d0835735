/**
 * The prompts stage: one prompt per image, from the study's class templates, its controlled
 * vocabulary (the phrases nearest each image in CLIP space), or the image's caption after the PHI
 * scrub, with the scrub's summary for the report. A caption the scrub drops falls back to the
 * class prompt: the image still counts, its text never leaves.
 */
import type { PromptMode, StudyManifest } from '../../shared/study';
import type { PhiSummary } from '../../shared/privacy-report';
import { type PhiFinding, scrubPhi } from '../privacy/phi-scrub';
import { classPrompts, fillTemplate } from './prompt-templates';
import { topVocabulary } from './vocabulary-prompts';

export type { PhiSummary } from '../../shared/privacy-report';

export type BuiltPrompts = {
  prompts: string[];
  /** Instance prompts: the scrub's summary (null otherwise). */
  phi: PhiSummary | null;
  /** Instance prompts: each image's findings (null otherwise). */
  phiPerImage: (PhiFinding[] | null)[];
  /** Vocabulary prompts: each image's best phrase (its DP bin); empty otherwise. */
  topPhrase: string[];
};

export function buildPrompts(o: {
  study: StudyManifest;
  promptMode: PromptMode;
  labels: readonly string[];
  /** Vocabulary prompts: each image's CLIP embedding and the vocabulary's CLIP text embeddings. */
  vocabulary?: {
    imageClip: readonly Float32Array[];
    phraseClip: readonly Float32Array[];
    top: number;
  };
  /**
   * Instance prompts: each image's caption, the names list and the study's PHI action.
   * `skip[i]`: image i is never captioned (it may show burned-in text) and uses the class prompt.
   */
  captions?: {
    texts: readonly string[];
    names: ReadonlySet<string>;
    action: 'redact' | 'drop';
    skip?: readonly boolean[];
  };
}): BuiltPrompts {
  const { study, labels } = o;
  const out: BuiltPrompts = {
    prompts: [],
    phi: null,
    phiPerImage: labels.map(() => null),
    topPhrase: [],
  };
  if (o.promptMode === 'class') {
    const perClass = new Map(
      study.classes.map((c) => [c, classPrompts(study.prompts.templates, c)]),
    );
    labels.forEach((label, i) => {
      const t = perClass.get(label)!;
      out.prompts.push(t[i % t.length]!);
    });
  } else if (o.promptMode === 'vocabulary') {
    const v = o.vocabulary!;
    labels.forEach((label, i) => {
      const picked = topVocabulary(
        v.imageClip[i]!,
        v.phraseClip,
        study.prompts.vocabulary,
        v.top,
      ).map((p) => p.phrase);
      out.topPhrase.push(picked[0]!);
      out.prompts.push(
        fillTemplate(study.prompts.instanceTemplate, { class: label, caption: picked.join(', ') }),
      );
    });
  } else {
    const c = o.captions!;
    const phi: PhiSummary = { captions: 0, redacted: 0, dropped: 0, findings: {} };
    labels.forEach((label, i) => {
      if (c.skip?.[i]) {
        out.prompts.push(classPrompts(study.prompts.templates, label)[0]!);
        return;
      }
      const scrubbed = scrubPhi(c.texts[i]!, { action: c.action, names: c.names });
      phi.captions++;
      phi.redacted += scrubbed.redacted;
      for (const f of scrubbed.findings)
        phi.findings[f.kind] = (phi.findings[f.kind] ?? 0) + f.count;
      out.phiPerImage[i] = scrubbed.findings;
      if (scrubbed.text === null || scrubbed.text.trim() === '') {
        phi.dropped++;
        out.prompts.push(classPrompts(study.prompts.templates, label)[0]!);
      } else
        out.prompts.push(
          fillTemplate(study.prompts.instanceTemplate, { class: label, caption: scrubbed.text }),
        );
    });
    out.phi = phi;
  }
  return out;
}
