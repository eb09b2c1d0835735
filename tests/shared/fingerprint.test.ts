import { describe, expect, it } from 'vitest';
import { groupFingerprint, sameFingerprint } from '../../src/shared/fingerprint';

// The one fingerprint display: the CLI, the site's enrollment/TLS errors and the desktop screens
// all print a sha256 hex fingerprint exactly as the three former copies did (fours, one space).
describe('groupFingerprint on the plain hex the server and site print', () => {
  const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

  it('splits 64 hex digits into 16 groups of four, as `match(/.{1,4}/g).join(" ")` did', () => {
    expect(groupFingerprint(hex)).toBe(
      'e3b0 c442 98fc 1c14 9afb f4c8 996f b924 27ae 41e4 649b 934c a495 991b 7852 b855',
    );
    expect(groupFingerprint('abcdef')).toBe('abcd ef');
    expect(groupFingerprint('')).toBe('');
  });

  it('keeps what it is given: a regrouped fingerprint is still the same key', () => {
    expect(sameFingerprint(groupFingerprint(hex), hex)).toBe(true);
    expect(sameFingerprint(groupFingerprint(hex), hex.replace(/.$/, '4'))).toBe(false);
  });
});
