import type { Ledger } from '../ledger/ledger';
import { checkServerUrl, SiteClient } from './site-client';
import { caPinForEnrollment, type CaPinOptions } from './tls-pinning';
import { publicKeyFingerprint } from './verify-model';
import { plainVault, type SiteKeyVault } from './site-key-vault';

export type EnrollResult = {
  siteId: string;
  studies: string[];
  serverKeyFingerprint: string;
  serverUrl: string;
  /** The server's TLS CA pinned for every later request; null for loopback http or a system-trusted certificate. */
  tlsCaFingerprint: string | null;
};

/** Groups a hex fingerprint in fours for people to compare by eye. */
export function displayFingerprint(hex: string): string {
  return hex.match(/.{1,4}/g)?.join(' ') ?? hex;
}

/**
 * Trade a one-time enrollment token for a site API key and pin the server's signing key.
 * The fingerprint is computed here from the key the server sent, never taken on trust from the
 * server's own claim; with `expectFingerprint` (given out-of-band with the token) a mismatch
 * aborts before anything is stored. Over https the server's TLS CA is pinned the same way
 * (`expectCaFingerprint`, or `confirmCa` for trust on first use; see tls-pinning.ts) BEFORE the
 * token is sent, and the token travels only over a connection that trusts just that CA.
 */
export async function enrollSite(
  ledger: Ledger,
  serverUrl: string,
  token: string,
  opts: { expectFingerprint?: string; vault?: SiteKeyVault } & CaPinOptions = {},
): Promise<EnrollResult> {
  const tlsPin = await caPinForEnrollment(checkServerUrl(serverUrl), opts);
  const res = await SiteClient.enroll(serverUrl, token, undefined, tlsPin);
  if (res.apiKey === null) throw new Error('The server enrolled an already-known site without issuing a key; enroll from the machine that holds the existing key.');
  const apiKey = res.apiKey;
  const fingerprint = publicKeyFingerprint(res.serverPublicKey);
  if (fingerprint !== res.serverKeyFingerprint.toLowerCase())
    throw new Error('The server sent a public key whose fingerprint differs from the one it claims; refusing to enroll.');
  const expected = opts.expectFingerprint?.replace(/[\s:]/g, '').toLowerCase();
  if (expected && expected !== fingerprint)
    throw Object.assign(new Error(`Server key fingerprint ${displayFingerprint(fingerprint)} does not match the expected ${displayFingerprint(expected)}.`), {
      code: 'fingerprint_mismatch',
      hint: 'Do not continue: ask the study coordinator to confirm the fingerprint; someone may be intercepting the connection.',
    });
  const url = new URL(serverUrl).origin;
  ledger.transaction(() => {
    for (const studyId of res.studies)
      ledger.enrollments.upsert({
        serverUrl: url,
        studyId,
        siteId: res.siteId,
        apiKey: (opts.vault ?? plainVault).seal(apiKey),
        serverPublicKey: res.serverPublicKey,
        serverKeyFingerprint: fingerprint,
        tlsCaPem: tlsPin?.caPem ?? null,
        tlsCaFingerprint: tlsPin?.caFingerprint ?? null,
      });
  });
  return { siteId: res.siteId, studies: res.studies, serverKeyFingerprint: fingerprint, serverUrl: url, tlsCaFingerprint: tlsPin?.caFingerprint ?? null };
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
