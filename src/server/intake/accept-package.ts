import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { decodePackage, PackageError, type EmbeddingPackage } from '../../shared/embedding-package';
import { metadataToStrings } from '../../shared/package-format';
import type { StudyManifest } from '../../shared/study';
import { HttpError } from '../api/http-error';
import { type DataLayout, packagePath } from '../store/data-layout';
import { commitFileDurable } from '../../core/fs/durable-file';
import type { Clock } from '../../shared/clock';
import type { ServerStore, StoredPackage } from '../store/server-store';
import { checkEpsilonBudget, checkPackagePolicy } from './check-package-policy';
import { receiveUpload, tooLarge } from './receive-upload';

export type AcceptPackageInput = {
  store: ServerStore;
  /** Stamps the package's `receivedAt`. */
  clock: Clock;
  layout: DataLayout;
  study: StudyManifest;
  siteId: string;
  /** sha256 named in the URL: the upload must hash to exactly this. */
  expectedSha256: string;
  body: Readable;
  contentLength: number | undefined;
  limits: { maxPackageBytes: number; maxHeaderBytes: number };
};

function decodeOrReject(bytes: Uint8Array, maxHeaderBytes: number): EmbeddingPackage {
  try {
    return decodePackage(bytes, { maxHeaderBytes });
  } catch (err) {
    if (err instanceof PackageError)
      throw new HttpError(
        400,
        `package_${err.code}`,
        `Package rejected: ${err.message}`,
        err.hint ?? 'Prepare the package again with the FGL app.',
      );
    throw err;
  }
}

/**
 * At most this many packages are read and decoded at once: each holds about 3× its size in
 * memory while it is checked, so unbounded parallel uploads of large packages could exhaust RAM.
 * Uploads still stream to disk in parallel; only the validation waits its turn.
 */
export const MAX_PARALLEL_VALIDATIONS = 4;
let validating = 0;
const waiting: (() => void)[] = [];
async function withValidationSlot<T>(fn: () => Promise<T>): Promise<T> {
  // A finishing validation hands its slot straight to the next waiter, so the count never overshoots.
  if (validating >= MAX_PARALLEL_VALIDATIONS) await new Promise<void>((r) => waiting.push(r));
  else validating++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else validating--;
  }
}

/**
 * Package intake: stream to a temp file (size-limited, hashed), check the hash against the URL,
 * decode and check against the study BEFORE anything is stored, then rename into
 * `packages/<sha256>.safetensors` durably and only then insert the row. Any rejection deletes the
 * temp file, so the store is exactly as before. Re-sending stored bytes is a no-op (created: false).
 */
export async function acceptPackage(
  a: AcceptPackageInput,
): Promise<{ record: StoredPackage; created: boolean }> {
  if (a.contentLength !== undefined && a.contentLength > a.limits.maxPackageBytes)
    throw tooLarge(a.limits.maxPackageBytes);
  await fs.mkdir(a.layout.packagesDir, { recursive: true });
  const upload = await receiveUpload(a.body, a.layout.packagesDir, a.limits.maxPackageBytes);
  let committed = false;
  try {
    if (upload.sha256 !== a.expectedSha256)
      throw new HttpError(
        400,
        'package_hash_mismatch',
        `the uploaded bytes hash to sha256 ${upload.sha256}, not the ${a.expectedSha256} named in the URL`,
        'The file changed or was damaged in transit; compute the sha256 of the exact bytes you send and upload again.',
      );
    const existing = await a.store.packages.get(upload.sha256);
    // Same bytes from the same site for the same study: already stored, nothing to do. (Another
    // site's identical bytes carry that site's id, so they fail the policy check below: no leak.)
    if (existing && existing.siteId === a.siteId && existing.studyId === a.study.id)
      return { record: existing, created: false };

    const { pkg, rejection } = await withValidationSlot(async () => {
      const decoded = decodeOrReject(await fs.readFile(upload.tmpPath), a.limits.maxHeaderBytes);
      // Only what the record needs survives the slot; the decoded tensors are dropped with it.
      return { pkg: { n: decoded.n, metadata: decoded.metadata }, rejection: checkPackagePolicy(decoded, a.study, a.siteId) };
    });
    if (rejection)
      throw new HttpError(rejection.status, rejection.code, rejection.message, rejection.hint);
    const withinBudget = (accepted: number) => {
      const over = checkEpsilonBudget(accepted, pkg.metadata.dp_epsilon, a.study);
      if (over) throw new HttpError(over.status, over.code, over.message, over.hint);
    };
    withinBudget(await a.store.packages.epsilonAccepted(a.study.id, a.siteId));

    const finalPath = packagePath(a.layout, upload.sha256);
    await commitFileDurable(upload.tmpPath, finalPath);
    committed = true;
    const record: StoredPackage = {
      sha256: upload.sha256,
      studyId: a.study.id,
      siteId: a.siteId,
      bytes: upload.bytes,
      rows: pkg.n,
      metadata: metadataToStrings(pkg.metadata),
      path: finalPath,
      receivedAt: a.clock().toISOString(),
    };
    let created: boolean;
    try {
      // Checked again in the insert's transaction: a parallel upload of this site (on any
      // replica) may have been accepted meanwhile.
      created = existing ? await a.store.packages.insert(record) : await a.store.packages.insertWithinBudget(record, withinBudget);
    } catch (e) {
      if (e instanceof HttpError) await fs.rm(finalPath, { force: true });
      throw e;
    }
    return { record: created ? record : (await a.store.packages.get(upload.sha256))!, created };
  } finally {
    if (!committed) await fs.rm(upload.tmpPath, { force: true });
  }
}
