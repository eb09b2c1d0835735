import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomIdPart } from '../auth/secret-token';
import { writeFileDurable } from '../../core/fs/durable-file';
import { runOpenssl } from './openssl-cli';
import { type AltName, altNamesConfigValue, subjectAltNames } from './subject-alt-names';

/** File names inside the TLS folder (`<data>/tls` by default). */
export const TLS_FILES = {
  caKey: 'ca.key',
  caCert: 'ca.crt',
  key: 'server.key',
  cert: 'server.crt',
} as const;

/** The private CA lives long: re-issuing it means every site must pin a new fingerprint. */
export const CA_VALIDITY_DAYS = 7300;
/** The server certificate is short-lived and re-issued from the same CA; sites never notice. */
export const SERVER_CERT_VALIDITY_DAYS = 398;
/** A server certificate that expires sooner than this is re-issued at start. */
export const RENEW_BEFORE_DAYS = 30;

const DAY_MS = 86_400_000;

export type ServerTls = {
  dir: string;
  /** PEM (PKCS#8) private key of the server certificate. */
  keyPem: string;
  /** Server certificate then CA certificate: sites receive the whole chain and pin its root. */
  certChainPem: string;
  caCertPem: string;
  /** sha256 of the CA certificate's DER, lowercase hex: what sites pin at enrollment. */
  caFingerprint: string;
  /** The names the server certificate is valid for, e.g. `DNS:localhost`, `IP:127.0.0.1`. */
  subjectAltNames: string[];
  /** Expiry of the server certificate (ISO 8601). */
  serverCertValidTo: string;
  /** What this call created: a new CA (sites must pin it) and/or a new server certificate. */
  created: { ca: boolean; serverCert: boolean; reason: string | null };
};

/** sha256 of a certificate's DER encoding, lowercase hex without separators. */
export function certFingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}

function opensslConfig(names: readonly AltName[]): string {
  // Only what we ask for ends up in the certificates: no defaults from a system openssl.cnf.
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    'CN = FGL',
    '[v3_ca]',
    'basicConstraints = critical, CA:TRUE, pathlen:0',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    '[v3_server]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    `subjectAltName = ${altNamesConfigValue(names)}`,
    '',
  ].join('\n');
}

/** A positive random 127-bit serial (RFC 5280: unique per CA, at most 20 octets). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x10;
  return '0x' + b.toString('hex');
}

function newEcKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function covers(cert: X509Certificate, n: AltName): boolean {
  return n.kind === 'IP'
    ? cert.checkIP(n.value) !== undefined
    : cert.checkHost(n.value) !== undefined;
}

/** Why the existing server certificate must be re-issued, or null if it is fine. */
function serverCertProblem(
  ca: X509Certificate,
  certPem: string | null,
  keyPem: string | null,
  names: readonly AltName[],
  now: Date,
): string | null {
  if (certPem === null || keyPem === null) return 'no server certificate yet';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return 'the server certificate does not parse';
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'it was not issued by this CA';
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'its key does not match server.key';
  if (cert.validToDate.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS)
    return `it expires on ${cert.validToDate.toISOString()}`;
  const missing = names.filter((n) => !covers(cert, n));
  if (missing.length > 0) return `it does not cover ${missing.map((n) => n.value).join(', ')}`;
  return null;
}

/**
 * The server's TLS material in `dir`, created on first use: a private CA (self-signed, EC P-256,
 * 20 years) and a server certificate it signs for `host`, localhost, 127.0.0.1, ::1 and
 * `hostnames`. Keys are made by node:crypto (PKCS#8, mode 0600); certificates by the system
 * `openssl` with an explicit config. On later starts the CA is reused (its fingerprint is what
 * sites pin) and the server certificate is re-issued only if it expires within 30 days, does
 * not cover a configured name, or does not match its key or the CA.
 */
export async function ensureServerTls(
  dir: string,
  opts: { host: string; hostnames?: readonly string[]; now?: () => Date },
): Promise<ServerTls> {
  const now = (opts.now ?? (() => new Date()))();
  const names = subjectAltNames(opts.host, opts.hostnames ?? []);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const file = (name: string) => path.join(dir, name);
  const config = file(`.openssl-${randomIdPart(4)}.cnf`);
  await fs.writeFile(config, opensslConfig(names), { mode: 0o600 });
  try {
    let caKeyPem = await readIfExists(file(TLS_FILES.caKey));
    let caCertPem = await readIfExists(file(TLS_FILES.caCert));
    let createdCa = false;
    if (caCertPem !== null && caKeyPem === null)
      throw new Error(
        `${file(TLS_FILES.caCert)} exists but its key ${TLS_FILES.caKey} is missing, so no server certificate can be issued. ` +
          `Restore ${TLS_FILES.caKey} from a backup, or move the folder ${dir} away to create a new CA (every site must then enroll again to pin it).`,
      );
    if (caCertPem === null) {
      // A CA key without its certificate was never shown to anyone: replacing it is safe.
      caKeyPem = newEcKeyPem();
      await writeFileDurable(file(TLS_FILES.caKey), caKeyPem, 0o600);
      caCertPem = await runOpenssl(
        [
          'req',
          '-x509',
          '-new',
          '-sha256',
          '-key',
          file(TLS_FILES.caKey),
          '-subj',
          `/CN=FGL server CA ${randomIdPart(4)}`,
          '-days',
          String(CA_VALIDITY_DAYS),
          '-set_serial',
          serial(),
          '-extensions',
          'v3_ca',
          '-config',
          config,
        ],
        { config },
      );
      await writeFileDurable(file(TLS_FILES.caCert), caCertPem, 0o644);
      createdCa = true;
    }
    const ca = new X509Certificate(caCertPem);
    if (!ca.ca || !ca.checkIssued(ca) || !ca.checkPrivateKey(createPrivateKey(caKeyPem!)))
      throw new Error(
        `${file(TLS_FILES.caCert)} is not a self-signed CA certificate matching ${TLS_FILES.caKey}. ` +
          `Move the folder ${dir} away to create a new CA (every site must then enroll again).`,
      );
    if (ca.validToDate.getTime() <= now.getTime())
      throw new Error(
        `The server's TLS CA expired on ${ca.validToDate.toISOString()}. Move the folder ${dir} away to create a new CA; every site must then enroll again to pin it.`,
      );

    let keyPem = await readIfExists(file(TLS_FILES.key));
    let certPem = await readIfExists(file(TLS_FILES.cert));
    const reason = createdCa ? 'new CA' : serverCertProblem(ca, certPem, keyPem, names, now);
    if (reason !== null) {
      keyPem = newEcKeyPem();
      await writeFileDurable(file(TLS_FILES.key), keyPem, 0o600);
      const csr = await runOpenssl(
        [
          'req',
          '-new',
          '-key',
          file(TLS_FILES.key),
          '-subj',
          `/CN=${names[0]!.value}`,
          '-config',
          config,
        ],
        { config },
      );
      certPem = await runOpenssl(
        [
          'x509',
          '-req',
          '-sha256',
          '-CA',
          file(TLS_FILES.caCert),
          '-CAkey',
          file(TLS_FILES.caKey),
          '-set_serial',
          serial(),
          '-days',
          String(SERVER_CERT_VALIDITY_DAYS),
          '-extfile',
          config,
          '-extensions',
          'v3_server',
        ],
        { config, stdin: csr },
      );
      // openssl dates certificates by the real clock, so the self-check uses it too.
      const problem = serverCertProblem(ca, certPem, keyPem, names, new Date());
      if (problem !== null)
        throw new Error(`openssl issued a server certificate that fails our own check: ${problem}`);
      await writeFileDurable(file(TLS_FILES.cert), certPem, 0o644);
    }
    const cert = new X509Certificate(certPem!);
    return {
      dir,
      keyPem: keyPem!,
      certChainPem: cert.toString() + ca.toString(),
      caCertPem: ca.toString(),
      caFingerprint: certFingerprint(ca),
      subjectAltNames: names.map((n) => `${n.kind}:${n.value}`),
      serverCertValidTo: cert.validToDate.toISOString(),
      created: { ca: createdCa, serverCert: reason !== null, reason },
    };
  } finally {
    await fs.rm(config, { force: true });
  }
}

/** The CA in `dir` if TLS was ever set up there (for printing its fingerprint), else null. */
export async function readServerTlsCa(
  dir: string,
): Promise<{ caCertPem: string; caFingerprint: string } | null> {
  const pem = await readIfExists(path.join(dir, TLS_FILES.caCert));
  if (pem === null) return null;
  const ca = new X509Certificate(pem);
  return { caCertPem: ca.toString(), caFingerprint: certFingerprint(ca) };
}
