import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import type { ProgressListener } from '../../shared/progress';
import type { ModelManifest } from '../../shared/model-manifest';
import type { Ledger } from '../ledger/ledger';
import type { ModelRow } from '../ledger/models-repo';
import { clientForStudy } from './enroll-site';
import type { SiteKeyVault } from './site-key-vault';
import { ModelVerificationError, verifyModelFolder } from '../../core/models/verify-model-folder';

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
  if (versions.length === 0) throw Object.assign(new Error(`Study ${studyId} has no published model yet.`), { hint: "Wait for the study's round to be published, then pull again." });
  const version = opts.version ?? Math.max(...versions);
  if (!versions.includes(version)) throw new Error(`Study ${studyId} has no model version ${version} (available: ${versions.join(', ')}).`);
  const accepted = ledger.models.latest(studyId, { verifiedOnly: true });
  const dir = join(opts.modelsRoot, studyId, `v${version}`);
  // Download and verify beside the accepted copy; only a verified folder replaces it, so a
  // tampered re-pull can never destroy a model that already verified.
  const staging = `${dir}.partial`;
  const existing = ledger.models.byVersion(studyId, version);
  let bytes = 0;
  try {
    const trust = {
      publicKeyPem: enrollment.serverPublicKey,
      pinnedFingerprint: enrollment.serverKeyFingerprint,
      ...(accepted && accepted.version !== version ? { minVersion: accepted.version } : {}),
    };
    // The signed manifest is checked before any file is fetched; the files after they arrive.
    ({ bytes } = await client.downloadModelFiles(studyId, version, staging, { trust, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) }));
    const manifest = await verifyModelFolder(staging, trust);
    const manifestSha = createHash('sha256').update(await readFile(join(staging, 'manifest.json'))).digest('hex');
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    const row = existing ?? ledger.models.insert({ studyId, version, dir, manifestSha256: manifestSha });
    return { row: ledger.models.setVerified(row.id, 'verified'), manifest, bytes };
  } catch (e) {
    // A dropped connection keeps the partial files for a resumed download; a refused model goes.
    if (e instanceof ModelVerificationError) {
      // The manifest's hash, when one arrived, identifies what was refused in the ledger.
      const manifestSha = createHash('sha256').update(await readFile(join(staging, 'manifest.json')).catch(() => Buffer.alloc(0))).digest('hex');
      await rm(staging, { recursive: true, force: true });
      const row = existing ?? ledger.models.insert({ studyId, version, dir, manifestSha256: manifestSha });
      if (row.verified !== 'verified') ledger.models.setVerified(row.id, 'failed', e.message);
    }
    throw e;
  }
}
