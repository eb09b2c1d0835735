import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../core/fs/durable-file';
import { publicKeyFingerprint } from '../../core/models/verify-model-folder';

export type ServerSigningKey = {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SPKI PEM of the public key: what sites pin at enrollment. */
  publicKeyPem: string;
  /** sha256 of the public key's SPKI DER, lowercase hex. */
  fingerprint: string;
};

/** sha256 (hex) of a public key's SPKI DER encoding: the value sites compare out of band. */
export { publicKeyFingerprint };


/**
 * The server's Ed25519 signing key: generated on first start into `<data>/keys/server-ed25519.pem`
 * (PKCS#8 PEM, mode 0600), loaded afterwards. Losing it means sites must re-pin a new key.
 */
export async function ensureSigningKey(
  file: string,
): Promise<ServerSigningKey & { created: boolean }> {
  let pem: string;
  let created = false;
  try {
    pem = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFileDurable(file, pem, 0o600);
    created = true;
  }
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(
      `${file} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key, expected ed25519; move it away to generate a new one`,
    );
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    privateKey,
    publicKey,
    publicKeyPem,
    fingerprint: publicKeyFingerprint(publicKey),
    created,
  };
}
