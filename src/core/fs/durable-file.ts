import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** fsync a directory so a rename or create inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A temp file name in `dir` (same filesystem as the target, so the final rename is atomic). */
export function tempPathIn(dir: string, base: string): string {
  return path.join(dir, `.${base}.${randomBytes(6).toString('hex')}.part`);
}

/**
 * Write `data` to `file` so that a crash leaves either the old file or the new one, never a torn
 * one: temp file in the same dir → fsync → rename → fsync dir.
 */
export async function writeFileDurable(
  file: string,
  data: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = tempPathIn(dir, path.basename(file));
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    // The umask may have stripped bits; secrets must end up exactly at `mode`.
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Move an already-fsynced temp file into place and make the rename durable. */
export async function commitFileDurable(tmp: string, file: string): Promise<void> {
  await fs.rename(tmp, file);
  await fsyncDir(path.dirname(file));
}

/** fsync every file under `dir` and every directory in it (before renaming a staged folder into place). */
export async function fsyncTree(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) {
      const fh = await fs.open(p, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  }
  await fsyncDir(dir);
}
