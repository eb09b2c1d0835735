import fs from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE, ModelManifest, SIGNATURE_FILE } from '../../shared/model-manifest';
import { publicKeyFingerprint } from '../auth/server-signing-key';
import { listModelFiles } from './model-files';
import { verifyManifestSignature } from './sign-manifest';

export class ModelVerifyError extends Error {
  override readonly name = 'ModelVerifyError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The check a site runs after downloading a model, implemented server-side as a self-check
 * before a version is published: the key matches the pinned fingerprint, manifest.sig verifies
 * over the exact bytes of manifest.json, the manifest parses, and the folder holds exactly the
 * listed files with the listed sizes and sha256.
 */
export async function verifyModelFolder(
  dir: string,
  publicKeyPem: string,
  expectedFingerprint?: string,
): Promise<ModelManifest> {
  if (
    expectedFingerprint !== undefined &&
    publicKeyFingerprint(publicKeyPem) !== expectedFingerprint
  )
    throw new ModelVerifyError(
      'key_mismatch',
      'the public key does not match the pinned fingerprint',
    );
  const bytes = await fs.readFile(path.join(dir, MANIFEST_FILE));
  const sig = await fs.readFile(path.join(dir, SIGNATURE_FILE), 'utf8');
  if (!verifyManifestSignature(bytes, sig, publicKeyPem))
    throw new ModelVerifyError(
      'bad_signature',
      `${SIGNATURE_FILE} does not verify over ${MANIFEST_FILE} with the server key`,
    );
  const parsed = ModelManifest.safeParse(JSON.parse(bytes.toString('utf8')));
  if (!parsed.success)
    throw new ModelVerifyError(
      'bad_manifest',
      `${MANIFEST_FILE} does not match the manifest schema`,
    );
  const manifest = parsed.data;
  const actual = await listModelFiles(dir);
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  if (actual.length !== listed.size)
    throw new ModelVerifyError(
      'file_set_mismatch',
      `folder holds ${actual.length} files, manifest lists ${listed.size}`,
    );
  for (const f of actual) {
    const want = listed.get(f.path);
    if (!want)
      throw new ModelVerifyError('file_set_mismatch', `${f.path} is not listed in the manifest`);
    if (want.bytes !== f.bytes || want.sha256 !== f.sha256)
      throw new ModelVerifyError(
        'file_mismatch',
        `${f.path} differs from the manifest (sha256 or size)`,
      );
  }
  return manifest;
}
