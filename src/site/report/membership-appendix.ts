import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { resourcesDir } from '../site-resources';

/**
 * The privacy report's membership-inference appendix: the figures measured by
 * `fgl experiment membership` (docs/membership-inference.md), shipped in
 * resources/privacy/membership-inference.json. They describe the method on the mini bundle, not
 * this site's own package: the report says so.
 */
const Auc = z.object({ auc: z.number(), low: z.number(), high: z.number(), members: z.number().int(), nonMembers: z.number().int() });
const Target = z.object({
  description: z.string(),
  sites: z.array(z.object({ site: z.string(), lossThreshold: Auc, shadow: Auc })),
  pooled: z.object({ lossThreshold: Auc, shadow: Auc }),
});
export const MembershipFigures = z.object({
  format: z.literal('fgl-membership-inference'),
  version: z.literal(1),
  date: z.string(),
  machine: z.string(),
  command: z.string(),
  goal: z.number(),
  settings: z.object({ sites: z.number().int(), imagesPerFederation: z.number().int(), shadows: z.number().int(), beta: z.number(), seed: z.number().int() }).passthrough(),
  targets: z.object({ fgl: Target, 'site-alone': Target, 'site-alone-overfit': Target }),
});
export type MembershipFigures = z.infer<typeof MembershipFigures>;

export const MEMBERSHIP_FIGURES_FILE = join('privacy', 'membership-inference.json');

/** The shipped figures; throws with the path when the file is missing or not in this format. */
export async function loadMembershipFigures(file = join(resourcesDir(), MEMBERSHIP_FIGURES_FILE)): Promise<MembershipFigures> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read the membership-inference figures at ${file}: ${(e as Error).message}. Reinstall the app or regenerate them with fgl experiment membership --out.`, { cause: e });
  }
  return parseFigures(text, file);
}

function parseFigures(text: string, file: string): MembershipFigures {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = MembershipFigures.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a membership-inference figures file (${parsed.error.issues[0]?.message ?? 'invalid'}); regenerate it with fgl experiment membership --out.`);
  return parsed.data;
}

/**
 * The appendix for the privacy report's Markdown, read synchronously so a report builder can add
 * it in one line. A missing or damaged figures file does not stop a package: the appendix then
 * says it could not be read and what to do.
 */
export function membershipInferenceAppendix(file = join(resourcesDir(), MEMBERSHIP_FIGURES_FILE)): string {
  try {
    return membershipAppendixMarkdown(parseFigures(readFileSync(file, 'utf8'), file));
  } catch (e) {
    return ['## Appendix: membership inference', '', `The measured figures could not be read: ${(e as Error).message.replace(/\.?$/, '.')} Reinstall FGL, or see docs/membership-inference.md.`, ''].join('\n');
  }
}

const fmt = (a: z.infer<typeof Auc>) => `${a.auc.toFixed(3)} [${a.low.toFixed(3)}, ${a.high.toFixed(3)}]`;
const worst = (t: z.infer<typeof Target>) => Math.max(...t.sites.flatMap((s) => [s.lossThreshold.auc, s.shadow.auc]));

/** The appendix as Markdown: the measured AUCs, the goal and whether it is met, and what they do not say. */
export function membershipAppendixMarkdown(f: MembershipFigures): string {
  const fgl = f.targets.fgl;
  const met = worst(fgl) <= f.goal;
  const row = (name: string, t: z.infer<typeof Target>) =>
    `| ${name} | ${fmt(t.pooled.lossThreshold)} | ${fmt(t.pooled.shadow)} | ${worst(t).toFixed(3)} |`;
  return [
    '## Appendix: membership inference (measured on the mini bundle)',
    '',
    `Could someone holding the published model tell whether an image was one of a site's? Measured with \`${f.command}\` on ${f.date.slice(0, 10)} (${f.machine}): ${f.settings.sites} sites per federation, ${f.settings.imagesPerFederation} Fashion-MNIST test images per federation, Dirichlet β = ${f.settings.beta}, ${f.settings.shadows} shadow federations, seed ${f.settings.seed}. Two attacks: a loss threshold and a shadow-model attack; AUC of members (the images a site prepared its package from, a random half of each class) against its held-out images of the same classes, with bootstrap 95 % intervals. 0.5 is a coin toss.`,
    '',
    '| model attacked | loss-threshold AUC (all sites) | shadow-model AUC (all sites) | highest per-site AUC |',
    '| --- | --- | --- | ---: |',
    row("FGL's published model", fgl),
    row('site alone, study recipe (control)', f.targets['site-alone']),
    row('site alone, memorising (control)', f.targets['site-alone-overfit']),
    '',
    `Goal: AUC ≤ ${f.goal} for the published model at every site — ${met ? '**met**' : '**not met**'} (highest per-site point estimate ${worst(fgl).toFixed(3)}). The controls are the same probe trained directly on the member images: the attacks find the members of the one that memorises them, so a figure near 0.5 is the attack failing on the published model, not the attack being broken.`,
    '',
    'These figures come from the mini foundation bundle on Fashion-MNIST, not from this study\'s models or data; they measure the method (aggregated prompts → synthetic images → a model trained on those), not this package. See docs/membership-inference.md.',
    '',
  ].join('\n');
}
