import { describe, expect, it } from 'vitest';
import { looserThan, PrivacyPolicy } from '../../src/shared/study';

describe('privacy policy strictness', () => {
  const study = PrivacyPolicy.parse({ k: 5, maxEpsilon: 8, allowInstance: false });
  it('accepts an equal or stricter site policy', () => {
    expect(looserThan(study, study)).toEqual([]);
    expect(looserThan({ ...study, k: 10, maxEpsilon: 4, singlingOutRatio: 1.1, phiAction: 'drop' }, study)).toEqual([]);
  });
  it('names every axis on which a site is looser', () => {
    const loose = looserThan({ ...study, k: 2, maxEpsilon: null, allowInstance: true }, study);
    expect(loose).toHaveLength(3);
    expect(loose[0]).toContain('k 2');
  });
});

describe('PHI action default (issue #12)', () => {
  it('instance captions with PHI are dropped unless the study explicitly chooses redaction', () => {
    expect(PrivacyPolicy.parse({ k: 5, maxEpsilon: null }).phiAction).toBe('drop');
    expect(PrivacyPolicy.parse({ k: 5, maxEpsilon: null, phiAction: 'redact' }).phiAction).toBe('redact');
  });
});
