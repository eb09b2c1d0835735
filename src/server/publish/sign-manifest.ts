import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { ModelManifest } from '../../shared/model-manifest';

/*
 * Signature scheme (sites implement the same check; see src/core/models/verify-model-folder.ts):
 *   manifest.json = UTF-8 bytes of JSON.stringify(manifest, null, 2) + "\n"
 *   manifest.sig  = base64 (RFC 4648, padded, no newline) of the 64-byte Ed25519 (RFC 8032, pure)
 *                   signature over those exact bytes.
 * The verifier checks the signature over the bytes it downloaded, never over a re-serialisation,
 * and pins the key by fingerprint = sha256 of the public key's SPKI DER (hex).
 */

export function manifestBytes(manifest: ModelManifest): Buffer {
  return Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
}

/** Ed25519 signature of `bytes`, base64. */
export function signManifest(bytes: Uint8Array, privateKey: KeyObject): string {
  // Ed25519 hashes internally: node:crypto wants `null` as the algorithm.
  return sign(null, bytes, privateKey).toString('base64');
}

export function verifyManifestSignature(
  bytes: Uint8Array,
  signatureBase64: string,
  publicKey: KeyObject | string,
): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== 'ed25519') return false;
  const sig = Buffer.from(signatureBase64.trim(), 'base64');
  if (sig.length !== 64) return false;
  return verify(null, bytes, key, sig);
}
