import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import type { ProgressListener } from '../../shared/progress';
import type { ModelManifest } from '../../shared/model-manifest';
import type { Ledger } from '../ledger/ledger';
import type { ModelRow } from '../ledger/models-repo';
import { clientForStudy } from './enroll-site';
import type { SiteKeyVault } from './site-key-vault';
import { ModelVerificationError, verifyModelFolder } from './verify-model';

/**
 * Download a model version (latest by default), verify it against the key pinned at
 * enrollment and refuse downgrades below the newest version already accepted. A model that
 * fails any check is deleted and recorded as failed with the reason.
 */
export async function pullModel(
  ledger: Ledger,
  studyId: string,
  opts: { version?: number; modelsRoot: string; signal?: AbortSignal; onProgress?: ProgressListener; vault?: SiteKeyVault },
): Promise<{ row: ModelRow; manifest: ModelManifest; bytes: number }> {
  const { client, enrollment } = clientForStudy(ledger, studyId, opts.vault);
  const versions = (await client.listModels(studyId, opts.signal)).map((m) => m.version);
  if (versions.length === 0) throw Object.assign(new Error(`Study ${studyId} has no published model yet.`), { hint: 'Wait for the round to finish (fgl site status) and pull again.' });
  const version = opts.version ?? Math.max(...versions);
  if (!versions.includes(version)) throw new Error(`Study ${studyId} has no model version ${version} (available: ${versions.join(', ')}).`);
  const accepted = ledger.models.latest(studyId, { verifiedOnly: true });
  const dir = join(opts.modelsRoot, studyId, `v${version}`);
  const { bytes } = await client.downloadModel(studyId, version, dir, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  const manifestSha = createHash('sha256').update(await readFile(join(dir, 'manifest.json'))).digest('hex');
  const row = ledger.models.byVersion(studyId, version) ?? ledger.models.insert({ studyId, version, dir, manifestSha256: manifestSha });
  try {
    const manifest = await verifyModelFolder(dir, {
      publicKeyPem: enrollment.serverPublicKey,
      pinnedFingerprint: enrollment.serverKeyFingerprint,
      ...(accepted && accepted.version !== version ? { minVersion: accepted.version } : {}),
    });
    if (manifest.studyId !== studyId || manifest.version !== version)
      throw new ModelVerificationError('manifest', `the signed manifest is for ${manifest.studyId} v${manifest.version}, not ${studyId} v${version}`);
    return { row: ledger.models.setVerified(row.id, 'verified'), manifest, bytes };
  } catch (e) {
    ledger.models.setVerified(row.id, 'failed', (e as Error).message);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
