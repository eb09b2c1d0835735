import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { commitFileDurable, tempPathIn } from '../../core/fs/durable-file';
import { createPackageEncoder, type PackageHeaderInput } from '../../shared/embedding-package';

/** A package written and fsynced under a temporary name beside its final path, not yet in place. */
export type StagedPackage = {
  sha256: string;
  bytes: number;
  /** Rename into place (durably); after this the package is at `file`. */
  commit(): Promise<void>;
  /** Remove the temporary file (safe to call after a failed or no commit). */
  discard(): Promise<void>;
};

/**
 * Stream a package to disk one conditioning row at a time, hashing as it goes, so memory holds one
 * row, never the whole [N, 77, D] tensor or the encoded file. `rows` must yield exactly `header.n`
 * rows of 77·dim values; each may be computed on demand. The bytes are those of `encodePackage`.
 * Crash-safe like writeFileDurable: temp file in the same folder → fsync → (commit) rename → fsync.
 */
export async function stagePackageFile(
  file: string,
  header: PackageHeaderInput,
  rows: Iterable<Float32Array>,
  opts: { mode?: number; signal?: AbortSignal } = {},
): Promise<StagedPackage> {
  const mode = opts.mode ?? 0o600;
  const encoder = createPackageEncoder(header);
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPathIn(dir, path.basename(file));
  const hash = createHash('sha256');
  const fh = await fs.open(tmp, 'wx', mode);
  let written = 0;
  const write = async (bytes: Uint8Array) => {
    hash.update(bytes);
    let at = 0;
    // FileHandle.write may write less than asked (large buffers, some filesystems): loop until done.
    while (at < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
      at += bytesWritten;
    }
    written += bytes.length;
  };
  try {
    await write(encoder.header);
    for (const row of rows) {
      opts.signal?.throwIfAborted();
      await write(encoder.encodeRow(row));
    }
    await write(encoder.trailer());
    if (written !== encoder.byteLength)
      throw new Error(
        `Wrote ${written} bytes of a ${encoder.byteLength}-byte package; this is a bug, please report it.`,
      );
    // The umask may have stripped bits; the package must end up exactly at `mode`.
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  let committed = false;
  return {
    sha256: hash.digest('hex'),
    bytes: written,
    async commit() {
      try {
        await commitFileDurable(tmp, file);
        committed = true;
      } catch (err) {
        await fs.rm(tmp, { force: true });
        throw err;
      }
    },
    async discard() {
      if (!committed) await fs.rm(tmp, { force: true });
    },
  };
}
