import { readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { decodePackage } from '../../shared/embedding-package';
import type { ProgressListener } from '../../shared/progress';
import type { Ledger } from '../ledger/ledger';
import type { UploadRow } from '../ledger/uploads-repo';
import { clientForStudy } from './enroll-site';
import type { SiteKeyVault } from './site-key-vault';
import { ServerError } from './site-client';

/** `DIR` (holding package.safetensors) or the file itself. */
export async function packageFile(pathArg: string): Promise<string> {
  const st = await stat(pathArg);
  return st.isDirectory() ? join(pathArg, 'package.safetensors') : pathArg;
}

/**
 * Upload an approved package. The audit row is written BEFORE anything is sent (status
 * pending), so a crash mid-upload still leaves a record, and `resumePendingUploads` finishes it.
 * The PUT is idempotent by sha256: retrying can never store a second copy on the server.
 */
export async function uploadPackage(
  ledger: Ledger,
  file: string,
  opts: { approvers: string[]; signal?: AbortSignal; onProgress?: ProgressListener; vault?: SiteKeyVault },
): Promise<UploadRow> {
  if (opts.approvers.length === 0 || opts.approvers.some((a) => a.trim() === '')) throw new Error('An upload needs at least one named approver.');
  const bytes = await readFile(file);
  const pkg = decodePackage(bytes); // refuse to send something the server would reject anyway
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (!ledger.packages.get(sha256))
    throw Object.assign(new Error(`This package (sha256 ${sha256.slice(0, 12)}…) was not prepared on this site: it is not in the site ledger.`), {
      code: 'unknown_package',
      hint: 'Only packages prepared here (fgl site prepare) can be approved, so the audit log can tie each upload to its privacy report.',
    });
  const { enrollment } = clientForStudy(ledger, pkg.metadata.study_id, opts.vault);
  if (pkg.metadata.site_id !== enrollment.siteId)
    throw new Error(`The package was made for site "${pkg.metadata.site_id}" but this site is enrolled as "${enrollment.siteId}".`);
  // One package, one approval: a second approval of bytes the server already accepted would
  // make the audit log say something left twice.
  const earlier = ledger.uploads.list({ search: sha256 }).find((u) => u.packageSha256 === sha256 && u.serverUrl === enrollment.serverUrl && u.status === 'accepted');
  if (earlier)
    throw Object.assign(new Error(`This package was already uploaded to ${earlier.serverUrl} (audit entry #${earlier.id}, approved by ${earlier.approvers.join(', ')}).`), {
      code: 'already_uploaded',
      hint: 'Nothing more to send. Prepare a new package if the data changed.',
    });
  const row = ledger.uploads.insert({ packageSha256: sha256, bytes: bytes.length, serverUrl: enrollment.serverUrl, studyId: pkg.metadata.study_id, approvers: opts.approvers });
  return sendUpload(ledger, row, file, opts);
}

async function sendUpload(ledger: Ledger, row: UploadRow, file: string, opts: { signal?: AbortSignal; onProgress?: ProgressListener; vault?: SiteKeyVault }): Promise<UploadRow> {
  const { client } = clientForStudy(ledger, row.studyId, opts.vault);
  try {
    const res = await client.uploadPackage(row.studyId, file, opts);
    if (res.sha256 !== row.packageSha256) throw new Error(`the package file changed since it was approved (sha256 ${res.sha256} ≠ ${row.packageSha256})`);
    return ledger.uploads.setOutcome(row.id, 'accepted', JSON.stringify({ status: res.status, sha256: res.sha256 }));
  } catch (e) {
    // A refusal is final; anything else stays pending so a later run can finish it.
    if (e instanceof ServerError && e.status >= 400 && e.status < 500) {
      ledger.uploads.setOutcome(row.id, 'rejected', JSON.stringify({ code: e.code, message: e.message, hint: e.hint }));
    } else if (!opts.signal?.aborted) ledger.uploads.setOutcome(row.id, 'pending', (e as Error).message);
    throw e;
  }
}

/** Send one approved upload again (the same audit row): for a `pending` one the operator retries. */
export async function resumeUpload(ledger: Ledger, row: UploadRow, opts: { signal?: AbortSignal; onProgress?: ProgressListener; vault?: SiteKeyVault } = {}): Promise<UploadRow> {
  const pkg = ledger.packages.get(row.packageSha256);
  if (!pkg) throw Object.assign(new Error(`The package of audit entry #${row.id} is not in the site ledger.`), { code: 'unknown_package' });
  return sendUpload(ledger, row, pkg.path, opts);
}

/** Finish uploads that a crash or a lost connection left pending; the package path comes from the ledger. */
export async function resumePendingUploads(ledger: Ledger, opts: { signal?: AbortSignal; vault?: SiteKeyVault } = {}): Promise<UploadRow[]> {
  const done: UploadRow[] = [];
  for (const row of ledger.uploads.list({ limit: 1000 }).filter((u) => u.status === 'pending')) {
    const pkg = ledger.packages.get(row.packageSha256);
    if (!pkg) continue;
    done.push(await sendUpload(ledger, row, pkg.path, opts));
  }
  return done;
}
