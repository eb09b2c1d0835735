import fs from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../core/fs/durable-file';
import { newSecret, secretHash } from './secret-token';

export const ADMIN_KEY_PREFIX = 'fgl_admin_';

/**
 * The admin key, created on first start in `<data>/keys/admin.key` (mode 0600). Whoever can read
 * that file administers the server; the CLI admin commands skip HTTP and act on the data dir.
 * Returns only the key's sha256: the server keeps no clear copy in memory longer than needed.
 */
export async function ensureAdminKey(file: string): Promise<{ sha256: string; created: boolean }> {
  try {
    const key = (await fs.readFile(file, 'utf8')).trim();
    if (key.length < 32)
      throw new Error(`${file} is too short to be an admin key; delete it to generate a new one`);
    return { sha256: secretHash(key), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = newSecret(ADMIN_KEY_PREFIX);
  await writeFileDurable(file, key + '\n', 0o600);
  return { sha256: secretHash(key), created: true };
}

/** Read the admin key in clear (CLI and tests; never logged). */
export async function readAdminKey(file: string): Promise<string> {
  return (await fs.readFile(file, 'utf8')).trim();
}
