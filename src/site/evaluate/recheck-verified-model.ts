import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { MANIFEST_FILE, ModelManifest, SIGNATURE_FILE } from '../../shared/model-manifest';
import { ModelVerificationError } from '../client/verify-model';
import type { Ledger } from '../ledger/ledger';
import type { ModelRow } from '../ledger/models-repo';

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

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
  const root = await realpath(dir);
  const listed = new Set<string>();
  for (const f of manifest.files) {
    let real: string;
    try {
      real = await realpath(join(root, ...f.path.split('/')));
    } catch {
      throw new ModelVerificationError('file_missing', `${f.path} is listed in the manifest but missing`);
    }
    if (real !== root && !real.startsWith(root + sep)) throw new ModelVerificationError('path', `${f.path} resolves outside the model folder`);
    const st = await stat(real);
    if (st.size !== f.bytes) throw new ModelVerificationError('file_size', `${f.path} has ${st.size} bytes, the manifest says ${f.bytes}`);
    if ((await sha256File(real)) !== f.sha256) throw new ModelVerificationError('file_hash', `${f.path} does not match its sha256 in the manifest`);
    listed.add(relative(root, real).split(sep).join('/'));
  }
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = relative(root, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel !== MANIFEST_FILE && rel !== SIGNATURE_FILE && !listed.has(rel))
      throw new ModelVerificationError('unexpected_file', `${rel} is in the model folder but not in the verified manifest`);
  }
  return { manifest, row };
}
