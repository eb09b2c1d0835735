import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_FILE, ModelManifest } from '../../shared/model-manifest';
import { checkModelFiles, ModelVerificationError } from '../../core/models/verify-model-folder';
import type { Ledger } from '../ledger/ledger';
import type { ModelRow } from '../ledger/models-repo';

/**
 * For a model the ledger records as verified when no pinned key is at hand: the manifest must be
 * byte-for-byte the one whose signature was checked (its sha256 is in the ledger) and every file
 * must still match it, so bytes changed on disk since the download are caught all the same.
 */
export async function recheckVerifiedModel(ledger: Ledger, dir: string): Promise<{ manifest: ModelManifest; row: ModelRow }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, MANIFEST_FILE));
  } catch {
    throw new ModelVerificationError('file_missing', `${MANIFEST_FILE} is missing in ${dir}`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  const parsed = ModelManifest.safeParse((() => {
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown;
    } catch {
      return null;
    }
  })());
  if (!parsed.success) throw new ModelVerificationError('manifest', `${join(dir, MANIFEST_FILE)} is not a valid model manifest`);
  const manifest = parsed.data;
  const row = ledger.models.byVersion(manifest.studyId, manifest.version);
  if (!row || row.verified !== 'verified' || row.manifestSha256 !== sha)
    throw new ModelVerificationError(
      'signature',
      `no pinned server key was given and the ledger holds no verified copy of this manifest (study ${manifest.studyId}, version ${manifest.version})`,
      'Enroll in the study (fgl site enroll) so the model can be checked against the pinned server key, or pass --trust-key and --trust-fingerprint.',
    );
  await checkModelFiles(dir, manifest, 'verified');
  return { manifest, row };
}
