import type { Clock } from '../../shared/clock';
import type { ServerStore } from '../store/server-store';
import { newSecret, randomIdPart, secretHash } from './secret-token';

export const ENROLLMENT_TOKEN_PREFIX = 'fgl_enroll_';
export const SITE_KEY_PREFIX = 'fgl_site_';
export const DEFAULT_TOKEN_TTL_SEC = 24 * 3600;

/** Issue a one-time enrollment token for `siteName` in `studyId`; only its sha256 is stored. */
export async function issueEnrollmentToken(
  store: ServerStore,
  clock: Clock,
  a: { studyId: string; siteName: string; ttlSec?: number; siteId?: string },
): Promise<{ token: string; expiresAt: string }> {
  const token = newSecret(ENROLLMENT_TOKEN_PREFIX);
  const expiresAt = new Date(
    clock().getTime() + (a.ttlSec ?? DEFAULT_TOKEN_TTL_SEC) * 1000,
  ).toISOString();
  await store.enrollment.insertToken({
    tokenSha256: secretHash(token),
    studyId: a.studyId,
    siteName: a.siteName,
    expiresAt,
    ...(a.siteId !== undefined ? { siteId: a.siteId } : {}),
  });
  return { token, expiresAt };
}

export type EnrollResult =
  | { ok: true; siteId: string; siteName: string; apiKey: string | null; studies: string[] }
  | { ok: false; reason: 'invalid' | 'used' | 'expired' | 'site_revoked' };

/**
 * Redeem a token. A new site gets a fresh API key (returned once, stored hashed); an already
 * enrolled site (`existingSiteId`, from its key) joins the token's study and keeps its key.
 */
export async function redeemEnrollmentToken(
  store: ServerStore,
  token: string,
  existingSiteId?: string,
): Promise<EnrollResult> {
  const apiKey = newSecret(SITE_KEY_PREFIX);
  const out = await store.enrollment.redeem({
    tokenSha256: secretHash(token),
    newSiteId: `site-${randomIdPart(8)}`,
    apiKeySha256: secretHash(apiKey),
    ...(existingSiteId !== undefined ? { existingSiteId } : {}),
  });
  if (!out.ok) return { ok: false, reason: out.reason };
  return {
    ok: true,
    siteId: out.siteId,
    siteName: out.siteName,
    apiKey: out.newKey ? apiKey : null,
    studies: out.studies,
  };
}
