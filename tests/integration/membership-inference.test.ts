/**
 * Would a broken membership measurement be caught? A reduced `fgl experiment membership`: two
 * sites, one shadow federation, each through the production prepare and the server's round
 * stages on the mini bundle. The FGL figures are not asserted (they are what is measured); what
 * is asserted would fail if the attacks could not find members at all (positive control), if
 * members and non-members were mixed up, or if the intervals were not intervals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBERSHIP_TARGETS, runMembershipExperiment, type MembershipResult } from '../../src/cli/experiment/membership-experiment';
import { BUNDLED_FASHION_MNIST_DIR } from '../../src/cli/sample-data/fashion-mnist';
import { MINI_MODELS_DIR } from '../../src/cli/study/models-folder';

let work: string;
let result: MembershipResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fgl-mia-'));
  result = await runMembershipExperiment({
    modelsDir: MINI_MODELS_DIR,
    workDir: work,
    seed: 1,
    device: 'cpu',
    sites: 2,
    images: 200,
    shadows: 1,
    beta: 0.5,
    controlEpochs: 300,
    bootstrap: 200,
    // Half the demo's synthetic images per row: the FGL figures are not asserted here.
    imagesPerRow: 4,
    datasetDir: BUNDLED_FASHION_MNIST_DIR,
    say: () => {},
  });
}, 300_000);
afterAll(() => rm(work, { recursive: true, force: true }));

describe('membership inference on the mini bundle (reduced)', () => {
  it('measures every attacked model at every site, class-matched, with a 95 % interval around the AUC', () => {
    for (const t of MEMBERSHIP_TARGETS) {
      const target = result.targets[t];
      expect(target.sites.length, t).toBe(2);
      for (const s of [...target.sites.flatMap((x) => [x.lossThreshold, x.shadow]), target.pooled.lossThreshold, target.pooled.shadow]) {
        expect(s.members).toBeGreaterThan(10);
        expect(s.nonMembers).toBe(s.members);
        expect(s.low).toBeLessThanOrEqual(s.auc);
        expect(s.high).toBeGreaterThanOrEqual(s.auc);
        expect(s.low).toBeGreaterThanOrEqual(0);
        expect(s.high).toBeLessThanOrEqual(1);
      }
    }
    // The FGL model's members are the images of rows that were sent, never more than the site has.
    for (const s of result.targets.fgl.sites) expect(s.members + s.notSent).toBeGreaterThan(s.members - 1);
  });

  it('positive control: the attacks find the members of a model trained on them', () => {
    const control = result.targets['site-alone-overfit'];
    // A model that memorises its images classifies (nearly) all of them right.
    for (const s of control.sites) expect(s.accuracy.members).toBeGreaterThanOrEqual(0.95);
    const best = Math.max(control.pooled.lossThreshold.auc, control.pooled.shadow.auc);
    expect(best, JSON.stringify(control.pooled)).toBeGreaterThan(0.6);
    // Measurably above a coin toss: the interval of the better attack excludes 0.5.
    const better = control.pooled.lossThreshold.auc >= control.pooled.shadow.auc ? control.pooled.lossThreshold : control.pooled.shadow;
    expect(better.low).toBeGreaterThan(0.5);
  });
});
