import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh 32-byte session token, base64url (URL-fragment and header safe). */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Constant-time token check. Both sides are hashed first so the comparison runs on equal-length
 * buffers and does not leak the token's length or a matching prefix through timing.
 */
export function tokenMatches(expected: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string' || given.length === 0 || given.length > 1024) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
