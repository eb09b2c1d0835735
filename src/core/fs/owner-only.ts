import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/*
 * Data only this account may read: folders 0700, files 0600, whatever the umask. Used for the
 * server's data dir and the site ledger (site API key, audit log, packages, models).
 */

/** Create `dir` (and parents) and make it 0700, also when it already existed with looser bits. */
export async function ownerOnlyDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700);
}

/** Every folder under `dir` (itself included) 0700, every file 0600. Symlinks are left alone. */
export async function ownerOnlyTree(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o700);
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await ownerOnlyTree(p);
    else if (e.isFile()) await fsp.chmod(p, 0o600);
  }
}

/**
 * A SQLite database and its WAL/SHM files 0600. SQLite creates the WAL and SHM files with the
 * database file's own mode, so once the database is 0600 they follow.
 */
export function ownerOnlySqliteFiles(dbPath: string): void {
  for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`])
    if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
}
