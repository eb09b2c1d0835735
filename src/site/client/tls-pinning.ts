import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import tls, { type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import { groupFingerprint } from '../../shared/fingerprint';

/**
 * The server's TLS CA as this site pinned it at enrollment. Afterwards the site trusts ONLY this
 * CA for that server (not the system's roots), so a certificate from any other CA — a
 * corporate TLS-inspection proxy, a mis-issued public certificate, an impostor — is refused.
 */
export type TlsPin = { caPem: string; caFingerprint: string };

/** What a server presented, seen before anything is trusted (enrollment). */
export type ServerCertificateInfo = {
  /** The root of the presented chain (PEM) and the sha256 of its DER, lowercase hex. */
  caPem: string;
  caFingerprint: string;
  caSubject: string;
  chainLength: number;
  /** Whether the system's roots accept the chain and the host name (e.g. a public certificate). */
  trustedBySystem: boolean;
  systemTrustError: string | null;
};

export const TLS_PIN_MISMATCH = 'ERR_FGL_TLS_PIN_MISMATCH';

/** `AB:CD …`, `abcd efgh …` or plain hex → 64 lowercase hex digits; anything else is refused. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new Error(
      `"${fp}" is not a sha256 fingerprint (64 hex digits); copy it exactly as the study coordinator gave it`,
    );
  return hex;
}

/** sha256 of a certificate's DER encoding, lowercase hex. */
export function certFingerprint(cert: X509Certificate | string | Buffer): string {
  const x = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return x.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** The presented chain, leaf first, each certificate once (a root is its own issuer). */
function peerChain(cert: PeerCertificate): PeerCertificate[] {
  const out: PeerCertificate[] = [];
  const seen = new Set<string>();
  let c: DetailedPeerCertificate | undefined = cert as DetailedPeerCertificate;
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    out.push(c);
    seen.add(c.fingerprint256);
    c = c.issuerCertificate;
  }
  return out;
}

/**
 * An https.Agent for a pinned server: `ca` makes the pinned CA the only trust anchor, and the
 * identity check additionally requires the pinned fingerprint in the verified chain, so the pin
 * holds even if the CA store handling ever changes. Host names are checked as usual.
 */
export function pinnedHttpsAgent(pin: TlsPin): https.Agent {
  const expected = normalizeFingerprint(pin.caFingerprint);
  if (certFingerprint(pin.caPem) !== expected)
    throw new Error(
      'The pinned TLS CA certificate does not match its pinned fingerprint: the enrollment record is damaged. Enroll this site again.',
    );
  return new https.Agent({
    ca: pin.caPem,
    keepAlive: true,
    checkServerIdentity(host, cert) {
      const err = tls.checkServerIdentity(host, cert);
      if (err) return err;
      if (
        !peerChain(cert).some((c) => c.fingerprint256.replace(/:/g, '').toLowerCase() === expected)
      )
        return Object.assign(
          new Error(
            `the server's certificate does not chain to the TLS CA pinned at enrollment (${groupFingerprint(expected)})`,
          ),
          { code: TLS_PIN_MISMATCH },
        );
      return undefined;
    },
  });
}

/**
 * Connect once without trusting anything and read the chain the server presents. The root must
 * be self-signed, every link must verify, and the server certificate must name the host: a pin
 * of anything less would not protect later connections.
 */
export function inspectServerCertificate(
  url: URL,
  timeoutMs = 15_000,
): Promise<ServerCertificateInfo> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 443 : Number(url.port);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      // Nothing is trusted yet: the chain is only read here, and pinned after an explicit check.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.setTimeout(timeoutMs, () =>
      fail(
        new Error(
          `No TLS answer from ${url.host} within ${timeoutMs / 1000} s; check the server URL and port.`,
        ),
      ),
    );
    socket.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        Object.assign(new Error(`Cannot open a TLS connection to ${url.host}: ${e.message}`), {
          hint:
            e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/i.test(e.message)
              ? 'The server does not speak TLS on this port: it may have been started without --tls.'
              : 'Check the server URL and your network.',
        }),
      ),
    );
    socket.once('secureConnect', () => {
      const presented = peerChain(socket.getPeerCertificate(true)).map(
        (c) => new X509Certificate(c.raw),
      );
      const authorized = socket.authorized;
      const authError = socket.authorizationError ? String(socket.authorizationError) : null;
      socket.end();
      try {
        resolve(checkPresentedChain(presented, host, authorized, authError));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

function checkPresentedChain(
  chain: X509Certificate[],
  host: string,
  trustedBySystem: boolean,
  systemTrustError: string | null,
): ServerCertificateInfo {
  const leaf = chain[0];
  const root = chain.at(-1);
  if (!leaf || !root) throw new Error('The server presented no TLS certificate.');
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey))
      throw new Error(
        `The server's certificate chain is broken at "${chain[i]!.subject}": refusing to pin it.`,
      );
  }
  if (!root.checkIssued(root) || !root.verify(root.publicKey))
    throw Object.assign(
      new Error(
        `The server's certificate chain ends at "${root.issuer}", whose certificate the server did not send, so there is no CA to pin.`,
      ),
      { hint: 'Configure the server to send its full chain (fgl server start --tls does this).' },
    );
  const named = isIP(host) !== 0 ? leaf.checkIP(host) : leaf.checkHost(host);
  if (named === undefined)
    throw Object.assign(
      new Error(
        `The server's certificate is not valid for "${host}" (it names: ${leaf.subjectAltName ?? leaf.subject}).`,
      ),
      {
        hint: 'Use a server address the certificate names, or restart the server with --tls-hostname for this name.',
      },
    );
  return {
    caPem: root.toString(),
    caFingerprint: certFingerprint(root),
    caSubject: root.subject,
    chainLength: chain.length,
    trustedBySystem,
    systemTrustError,
  };
}

export type CaPinOptions = {
  /** The CA fingerprint the coordinator gave out of band with the token; a mismatch aborts. */
  expectCaFingerprint?: string;
  /** Trust on first use: shown the CA the server presented; enrollment continues only on true. */
  confirmCa?: (ca: { fingerprint: string; subject: string }) => boolean | Promise<boolean>;
};

/**
 * Decide what to pin when enrolling at `url`. https: the presented CA, if it matches
 * `expectCaFingerprint` or `confirmCa` accepts it; with neither, a certificate the system
 * already trusts (a public CA behind a reverse proxy) is used unpinned, anything else is refused
 * with the fingerprint to confirm. http (loopback only): nothing to pin.
 */
export async function caPinForEnrollment(url: URL, opts: CaPinOptions): Promise<TlsPin | null> {
  if (url.protocol !== 'https:') {
    if (opts.expectCaFingerprint)
      throw new Error(
        `A TLS CA fingerprint was given, but ${url.origin} is plain http: use the server's https:// address.`,
      );
    return null;
  }
  const info = await inspectServerCertificate(url);
  const pin = { caPem: info.caPem, caFingerprint: info.caFingerprint };
  if (opts.expectCaFingerprint !== undefined) {
    const expected = normalizeFingerprint(opts.expectCaFingerprint);
    if (expected !== info.caFingerprint)
      throw Object.assign(
        new Error(
          `The server's TLS CA fingerprint ${groupFingerprint(info.caFingerprint)} does not match the expected ${groupFingerprint(expected)}.`,
        ),
        {
          code: 'tls_ca_mismatch',
          hint: 'Do not continue: ask the study coordinator to confirm the CA fingerprint; someone may be intercepting the connection.',
        },
      );
    return pin;
  }
  if (opts.confirmCa) {
    if (await opts.confirmCa({ fingerprint: info.caFingerprint, subject: info.caSubject }))
      return pin;
    throw new Error('Enrollment cancelled: the server TLS CA was not confirmed.');
  }
  if (info.trustedBySystem) return null;
  throw Object.assign(
    new Error(
      `The server's TLS certificate is not trusted by this system (${info.systemTrustError ?? 'unknown issuer'}); ` +
        `its CA fingerprint is ${groupFingerprint(info.caFingerprint)} ("${info.caSubject}").`,
    ),
    {
      code: 'tls_ca_unconfirmed',
      hint: 'Compare that fingerprint with the TLS CA fingerprint the study coordinator gave you with the token, then enroll again giving it as the expected TLS CA fingerprint (app: the "TLS CA fingerprint" field; CLI: --expect-ca-fingerprint <fingerprint>).',
    },
  );
}

/** Certificate verification failures: permanent until someone acts, so never retried. */
const TLS_VERIFY_CODES = new Set([
  TLS_PIN_MISMATCH,
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** OpenSSL's words for "the other side is not speaking TLS" (it answered in plain HTTP). */
const NOT_TLS = /wrong version number|packet length too long|http request/i;

function errorCode(err: unknown): string | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_VERIFY_CODES.has(code)) return code;
    if (code === 'EPROTO' && NOT_TLS.test(String((e as { message?: unknown }).message)))
      return 'ERR_SSL_WRONG_VERSION_NUMBER';
  }
  return undefined;
}

/** Whether `err` (or its cause) is a certificate verification failure. */
export function isTlsVerificationError(err: unknown): boolean {
  return errorCode(err) !== undefined;
}

/** A TLS verification failure as an error that says what it means and what to do; null if it is not one. */
export function tlsFailure(err: unknown, serverUrl: string): (Error & { hint: string }) | null {
  const code = errorCode(err);
  if (!code) return null;
  const host = new URL(serverUrl).host;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER')
    return Object.assign(new Error(`${host} does not speak TLS on this port.`), {
      code: 'server_not_tls',
      hint: 'Check the URL: the server may have been started without --tls (use http:// only on loopback).',
    });
  const what =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? 'its certificate is not valid for this host name'
      : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
        ? 'its certificate is expired or not yet valid'
        : 'its certificate does not chain to the TLS CA pinned at enrollment';
  return Object.assign(new Error(`Refusing the server at ${host}: ${what} (${code}).`), {
    code: 'tls_refused',
    hint: 'Do not work around this: ask the study coordinator whether the server certificate or CA changed. If the CA was replaced on purpose, enroll again with a new token and the new CA fingerprint.',
  });
}
