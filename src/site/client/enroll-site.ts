import type { Ledger } from '../ledger/ledger';
import { checkServerUrl, ENROLL_RETRY, SiteClient } from './site-client';
import { caPinForEnrollment, type CaPinOptions, normalizeFingerprint } from './tls-pinning';
import { publicKeyFingerprint } from '../../core/models/verify-model-folder';
import { groupFingerprint } from '../../shared/fingerprint';
import { plainVault, type SiteKeyVault } from './site-key-vault';

export type EnrollResult = {
  siteId: string;
  studies: string[];
  serverKeyFingerprint: string;
  serverUrl: string;
  /** The server's TLS CA pinned for every later request; null for loopback http or a system-trusted certificate. */
  tlsCaFingerprint: string | null;
};

function fingerprintMismatch(got: string, expected: string): Error {
  return Object.assign(new Error(`Server key fingerprint ${groupFingerprint(got)} does not match the expected ${groupFingerprint(expected)}. The enrollment token was NOT used.`), {
    code: 'fingerprint_mismatch',
    hint: 'Check the fingerprint you typed against the coordinator\'s message and try again with the same token. If it really differs, do not continue: someone may be intercepting the connection.',
  });
}

/**
 * Trade a one-time enrollment token for a site API key and pin the server's signing key, in two
 * phases so that a typo never burns the token:
 *  1. over https the server's TLS CA is pinned (`expectCaFingerprint`, or `confirmCa` for trust
 *     on first use; see tls-pinning.ts); then the server's public key is fetched
 *     (GET /v1/server-key, redeems nothing) and its fingerprint computed here, never taken on
 *     trust. It must match `expectFingerprint` (given out of band with the token), and, when this
 *     site already pinned another key for the same server address, it must have been expected
 *     explicitly: a changed server key is refused with the old and the new fingerprint.
 *  2. only then is the token sent, over a connection that trusts just the pinned CA; the key in
 *     the answer must be the one checked in phase 1.
 */
export async function enrollSite(
  ledger: Ledger,
  serverUrl: string,
  token: string,
  opts: { expectFingerprint?: string; vault?: SiteKeyVault } & CaPinOptions = {},
): Promise<EnrollResult> {
  const url = checkServerUrl(serverUrl);
  const expected = opts.expectFingerprint === undefined || opts.expectFingerprint.trim() === '' ? undefined : normalizeFingerprint(opts.expectFingerprint);
  const tlsPin = await caPinForEnrollment(url, opts);
  // Phase 1: the key, checked before anything is redeemed.
  const client = new SiteClient(serverUrl, undefined, ENROLL_RETRY, tlsPin);
  const offered = await client.serverKey();
  const fingerprint = publicKeyFingerprint(offered.serverPublicKey);
  if (fingerprint !== offered.serverKeyFingerprint.toLowerCase())
    throw new Error('The server sent a public key whose fingerprint differs from the one it claims; refusing to enroll. The enrollment token was NOT used.');
  if (expected && expected !== fingerprint) throw fingerprintMismatch(fingerprint, expected);
  const origin = url.origin;
  const pinned = [...new Set(ledger.enrollments.list().filter((e) => e.serverUrl === origin).map((e) => e.serverKeyFingerprint))];
  const changedFrom = pinned.find((fp) => fp !== fingerprint);
  if (changedFrom !== undefined && expected !== fingerprint)
    throw Object.assign(
      new Error(
        `The server at ${origin} now signs with a different key: pinned ${groupFingerprint(changedFrom)}, offered ${groupFingerprint(fingerprint)}. Refusing to replace the pinned key; the enrollment token was NOT used.`,
      ),
      {
        code: 'server_key_changed',
        hint: 'Ask the study coordinator whether the server key really changed (by phone, not by e-mail). If it did, enroll again giving the NEW fingerprint as the expected server key fingerprint (CLI: --expect-fingerprint).',
      },
    );
  // Phase 2: redeem the token.
  const res = await client.redeem(token);
  if (res.apiKey === null) throw new Error('The server enrolled an already-known site without issuing a key; enroll from the machine that holds the existing key.');
  const apiKey = res.apiKey;
  if (publicKeyFingerprint(res.serverPublicKey) !== fingerprint)
    throw new Error('The server answered the enrollment with a different key than the one it offered a moment earlier; refusing to pin either. Tell the study coordinator.');
  ledger.transaction(() => {
    for (const studyId of res.studies)
      ledger.enrollments.upsert({
        serverUrl: origin,
        studyId,
        siteId: res.siteId,
        apiKey: (opts.vault ?? plainVault).seal(apiKey),
        serverPublicKey: res.serverPublicKey,
        serverKeyFingerprint: fingerprint,
        tlsCaPem: tlsPin?.caPem ?? null,
        tlsCaFingerprint: tlsPin?.caFingerprint ?? null,
      });
  });
  return { siteId: res.siteId, studies: res.studies, serverKeyFingerprint: fingerprint, serverUrl: origin, tlsCaFingerprint: tlsPin?.caFingerprint ?? null };
}

/** The client for a study this site is enrolled in. */
export function clientForStudy(ledger: Ledger, studyId: string, vault: SiteKeyVault = plainVault): { client: SiteClient; enrollment: ReturnType<Ledger['enrollments']['list']>[number] } {
  const enrollments = ledger.enrollments.list();
  const enrollment = enrollments.find((e) => e.studyId === studyId);
  if (!enrollment) {
    // A typo is likelier than a missing enrollment once there are any: name what there is.
    const enrolled = [...new Set(enrollments.map((e) => e.studyId))].sort();
    throw Object.assign(new Error(`This site is not enrolled in study ${studyId}.${enrolled.length > 0 ? ` It is enrolled in: ${enrolled.join(', ')}.` : ''}`), {
      code: 'not_enrolled',
      hint: enrolled.length > 0 ? 'Check the study id for a typo (it is one of those above), or enroll in this study with a token from its coordinator.' : 'Enroll with the token from the study coordinator first (app: Connect; CLI: fgl site enroll --server URL --token T).',
    });
  }
  // The TLS CA pinned at enrollment (if any) is the only CA this client will trust for the server.
  const tlsPin = enrollment.tlsCaPem && enrollment.tlsCaFingerprint ? { caPem: enrollment.tlsCaPem, caFingerprint: enrollment.tlsCaFingerprint } : null;
  return { client: new SiteClient(enrollment.serverUrl, vault.unseal(enrollment.apiKey), undefined, tlsPin), enrollment };
}
