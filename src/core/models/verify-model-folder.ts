import { type KeyObject, createHash, createPublicKey, verify } from 'node:crypto';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { MANIFEST_FILE, ModelManifest, SIGNATURE_FILE } from '../../shared/model-manifest';
import { hashFile } from './model-digest';

export type VerificationCheck = 'key_pin' | 'signature' | 'manifest' | 'path' | 'file_missing' | 'file_size' | 'file_hash' | 'unexpected_file' | 'downgrade';

/** A model that failed verification; `check` names which check failed so the UI can say so. */
export class ModelVerificationError extends Error {
  /** What the site API reports (dispatch-site-call.ts): a refused model, never an `internal_error`. */
  readonly code = 'model_refused';
  constructor(
    readonly check: VerificationCheck,
    message: string,
    readonly hint = 'Do not use this model. Pull it again; if it fails again, tell the study coordinator.',
  ) {
    super(`Model refused (${check}): ${message}`);
    this.name = 'ModelVerificationError';
  }
}

/** Fingerprint of an Ed25519 public key: sha256 of its SPKI DER encoding, lowercase hex (what sites pin). */
export function publicKeyFingerprint(publicKey: KeyObject | string): string {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

export type ModelTrust = { publicKeyPem: string; pinnedFingerprint: string; minVersion?: number };

/**
 * The checks that need only the manifest and its signature: the signer is the pinned server key,
 * the signature covers these exact bytes, the manifest parses, and the version is not older than
 * one already accepted. The model pull runs this BEFORE fetching any file.
 */
export function verifySignedManifest(manifestBytes: Buffer, signatureText: string, trust: ModelTrust): ModelManifest {
  // The key must be the one pinned at enrollment, not whatever key a server sends later.
  if (publicKeyFingerprint(trust.publicKeyPem) !== trust.pinnedFingerprint.toLowerCase())
    throw new ModelVerificationError('key_pin', 'the server key does not match the fingerprint pinned at enrollment');
  const signature = Buffer.from(signatureText.trim(), 'base64');
  if (!verify(null, manifestBytes, createPublicKey(trust.publicKeyPem), signature))
    throw new ModelVerificationError('signature', 'the manifest signature does not verify with the pinned server key');
  let manifest: ModelManifest;
  try {
    manifest = ModelManifest.parse(JSON.parse(manifestBytes.toString('utf8')));
  } catch (e) {
    throw new ModelVerificationError('manifest', `manifest.json is signed but not a valid model manifest: ${(e as Error).message}`);
  }
  if (trust.minVersion !== undefined && manifest.version < trust.minVersion)
    throw new ModelVerificationError(
      'downgrade',
      `version ${manifest.version} is older than version ${trust.minVersion} already accepted for study ${manifest.studyId}`,
    );
  return manifest;
}

/**
 * Verify a signed model folder before anything loads it: the signed manifest
 * (verifySignedManifest), every listed file inside the folder (symlinks resolved) with its size
 * and sha256, and nothing unlisted beside them. The one check for the server's publish
 * self-check, the site's pull and its evaluation.
 */
export async function verifyModelFolder(dir: string, trust: ModelTrust): Promise<ModelManifest> {
  let manifestBytes: Buffer;
  let signature: string;
  try {
    manifestBytes = await readFile(join(dir, MANIFEST_FILE));
    signature = await readFile(join(dir, SIGNATURE_FILE), 'utf8');
  } catch {
    throw new ModelVerificationError('file_missing', `${MANIFEST_FILE} or ${SIGNATURE_FILE} is missing in ${dir}`);
  }
  const manifest = verifySignedManifest(manifestBytes, signature, trust);
  await checkModelFiles(dir, manifest, 'signed');
  return manifest;
}

/**
 * Every file the manifest lists is inside the folder (symlinks resolved), has its size and sha256,
 * and nothing unlisted sits beside them. Shared by the first verification and later rechecks.
 */
export async function checkModelFiles(dir: string, manifest: ModelManifest, what: 'signed' | 'verified'): Promise<void> {
  const root = await realpath(dir);
  const listed = new Set<string>();
  for (const f of manifest.files) {
    const full = join(root, ...f.path.split('/'));
    let real: string;
    try {
      real = await realpath(full);
    } catch {
      throw new ModelVerificationError('file_missing', `${f.path} is listed in the manifest but missing`);
    }
    // A symlink inside the folder could still point outside it.
    if (real !== root && !real.startsWith(root + sep)) throw new ModelVerificationError('path', `${f.path} resolves outside the model folder`);
    const st = await stat(real);
    if (st.size !== f.bytes) throw new ModelVerificationError('file_size', `${f.path} has ${st.size} bytes, the manifest says ${f.bytes}`);
    if ((await hashFile(real)).sha256 !== f.sha256) throw new ModelVerificationError('file_hash', `${f.path} does not match its sha256 in the manifest`);
    listed.add(relative(root, real).split(sep).join('/'));
  }
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = relative(root, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel !== MANIFEST_FILE && rel !== SIGNATURE_FILE && !listed.has(rel))
      throw new ModelVerificationError('unexpected_file', `${rel} is in the model folder but not in the ${what} manifest`);
  }
}
