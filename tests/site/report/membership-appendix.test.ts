import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadMembershipFigures, membershipAppendixMarkdown, membershipInferenceAppendix, type MembershipFigures } from '../../../src/site/report/membership-appendix';

describe('the privacy report’s membership-inference appendix', () => {
  it('states the shipped figures: every model attacked, the goal and whether the published model meets it', async () => {
    const f = await loadMembershipFigures();
    const md = membershipAppendixMarkdown(f);
    expect(membershipInferenceAppendix()).toBe(md);
    expect(md).toMatch(/^## Appendix: membership inference/);
    expect(md).toContain(f.targets.fgl.pooled.lossThreshold.auc.toFixed(3));
    expect(md).toContain(f.targets.fgl.pooled.shadow.auc.toFixed(3));
    expect(md).toContain(f.targets['site-alone-overfit'].pooled.shadow.auc.toFixed(3));
    expect(md).toContain(`AUC ≤ ${f.goal}`);
    const worst = Math.max(...f.targets.fgl.sites.flatMap((s) => [s.lossThreshold.auc, s.shadow.auc]));
    expect(md).toContain(worst <= f.goal ? '**met**' : '**not met**');
    expect(md).toMatch(/mini foundation bundle on Fashion-MNIST/);
  });

  it('says "not met" when a site’s AUC is above the goal', async () => {
    const f = await loadMembershipFigures();
    const over: MembershipFigures = structuredClone(f);
    over.targets.fgl.sites[0]!.shadow.auc = f.goal + 0.1;
    expect(membershipAppendixMarkdown(over)).toContain('**not met**');
  });

  it('refuses a file that is not the figures, with what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fgl-mia-appendix-'));
    try {
      await writeFile(join(dir, 'x.json'), JSON.stringify({ format: 'something else' }));
      await expect(loadMembershipFigures(join(dir, 'x.json'))).rejects.toThrow(/not a membership-inference figures file.*fgl experiment membership --out/);
      await expect(loadMembershipFigures(join(dir, 'missing.json'))).rejects.toThrow(/Cannot read the membership-inference figures/);
      // The report's one-line form never stops a package: it says what is wrong instead.
      expect(membershipInferenceAppendix(join(dir, 'x.json'))).toMatch(/could not be read: .*not a membership-inference figures file/);
      expect(membershipInferenceAppendix(join(dir, 'missing.json'))).toMatch(/could not be read: .*ENOENT/);
      await writeFile(join(dir, 'bad.json'), '{');
      expect(membershipInferenceAppendix(join(dir, 'bad.json'))).toMatch(/not a membership-inference figures file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
