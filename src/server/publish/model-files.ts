import fs from 'node:fs/promises';
import path from 'node:path';
import { hashFile } from '../../core/models/model-digest';
import {
  MANIFEST_FILE,
  type ModelFile,
  SafeRelativePath,
  SIGNATURE_FILE,
} from '../../shared/model-manifest';

/**
 * Every regular file of a model folder with its sha256 and size, sorted by path ('/'-separated),
 * except manifest.json and manifest.sig. Symlinks and other special files are refused: a
 * published folder must be exactly the bytes the manifest lists.
 */
export async function listModelFiles(dir: string): Promise<ModelFile[]> {
  const out: ModelFile[] = [];
  async function walk(rel: string): Promise<void> {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const relPath = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(relPath);
      else if (e.isFile()) {
        if (relPath === MANIFEST_FILE || relPath === SIGNATURE_FILE) continue;
        const safe = SafeRelativePath.safeParse(relPath);
        if (!safe.success)
          throw new Error(`model file name "${relPath}" is not a safe relative path; rename it`);
        const abs = path.join(dir, relPath);
        const st = await fs.stat(abs);
        out.push({ path: relPath, sha256: (await hashFile(abs)).sha256, bytes: st.size });
      } else
        throw new Error(
          `${path.join(dir, relPath)} is not a regular file or folder (symlink?); a model folder holds plain files only`,
        );
    }
  }
  await walk('');
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return out;
}
