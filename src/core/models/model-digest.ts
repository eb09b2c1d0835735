import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelRole } from '../../shared/model-ref';
import { ENCODER_FILES, MODEL_LAYOUTS, layoutFiles } from './model-layouts';

export type FileHash = { path: string; sha256: string; bytes: number };

/** sha256 of one file, streamed: model files are gigabytes and must never be read whole. */
export async function hashFile(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = chunk as Buffer;
    bytes += buf.length;
    hash.update(buf);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Code-point order, so the digest does not depend on the machine's locale. */
function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Files at least this big have their sha256 memoized; smaller ones hash faster than the memo reads. */
export const DIGEST_MEMO_MIN_BYTES = 1 << 20;
/** Entries kept in the memo file (least recently used go first). */
const DIGEST_MEMO_MAX_ENTRIES = 4096;

/**
 * Where file digests are memoized: $FGL_DIGEST_CACHE (a file; `off` disables), else the user's
 * cache folder (`$XDG_CACHE_HOME/fgl`, `~/Library/Caches/FGL`, `%LOCALAPPDATA%\FGL\Cache`).
 */
export function digestMemoFile(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | null {
  if (env.FGL_DIGEST_CACHE === 'off') return null;
  if (env.FGL_DIGEST_CACHE) return path.resolve(env.FGL_DIGEST_CACHE);
  const home = os.homedir();
  const dir =
    platform === 'win32'
      ? path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'FGL', 'Cache')
      : platform === 'darwin'
        ? path.join(home, 'Library', 'Caches', 'FGL')
        : path.join(env.XDG_CACHE_HOME ?? path.join(home, '.cache'), 'fgl');
  return path.join(dir, 'file-digests.json');
}

/** A file's identity on disk: ctime and inode cannot be set back by a user, so an edited file never matches. */
type FileStamp = { size: number; mtimeMs: number; ctimeMs: number; ino: number };
type MemoEntry = FileStamp & { sha256: string; usedAt: number };
type DigestMemo = { format: 1; files: Record<string, MemoEntry> };

async function readDigestMemo(file: string): Promise<DigestMemo> {
  try {
    const memo = JSON.parse(await readFile(file, 'utf8')) as DigestMemo;
    if (memo.format === 1 && typeof memo.files === 'object' && memo.files !== null) return memo;
  } catch {
    // Missing or damaged: the memo only saves time, start afresh.
  }
  return { format: 1, files: {} };
}

/** Merges `fresh` into the memo on disk (re-read first, so concurrent writers mostly keep each other's), atomically. */
async function writeDigestMemo(file: string, fresh: Record<string, MemoEntry>): Promise<void> {
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const memo = await readDigestMemo(file);
    const files = Object.entries({ ...memo.files, ...fresh })
      .sort((a, b) => b[1].usedAt - a[1].usedAt)
      .slice(0, DIGEST_MEMO_MAX_ENTRIES);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(tmp, JSON.stringify({ format: 1, files: Object.fromEntries(files) } satisfies DigestMemo));
    await rename(tmp, file);
  } catch {
    // A read-only or full cache folder still works, just without the memo.
    await unlink(tmp).catch(() => {});
  }
}

/**
 * Hashes of the given files (relative to dir, '/'-separated), sorted by path. Files of at least
 * DIGEST_MEMO_MIN_BYTES are hashed once and remembered by (absolute path, size, mtime, ctime,
 * inode) in digestMemoFile(): a second server command on a multi-GB generator reads no model bytes.
 */
export async function hashFiles(dir: string, relPaths: readonly string[]): Promise<FileHash[]> {
  const sorted = [...new Set(relPaths)].sort(byPath);
  const memoFile = digestMemoFile();
  let memo: DigestMemo | null = null;
  const fresh: Record<string, MemoEntry> = {};
  const out: FileHash[] = [];
  for (const rel of sorted) {
    const file = path.resolve(dir, ...rel.split('/'));
    const s = memoFile ? await stat(file) : null;
    if (!memoFile || !s || s.size < DIGEST_MEMO_MIN_BYTES) {
      const { sha256, bytes } = await hashFile(file);
      out.push({ path: rel, sha256, bytes });
      continue;
    }
    memo ??= await readDigestMemo(memoFile);
    const stamp: FileStamp = { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino };
    const known = memo.files[file];
    const same =
      known !== undefined &&
      known.size === stamp.size &&
      known.mtimeMs === stamp.mtimeMs &&
      known.ctimeMs === stamp.ctimeMs &&
      known.ino === stamp.ino;
    const sha256 = same ? known.sha256 : (await hashFile(file)).sha256;
    fresh[file] = { ...stamp, sha256, usedAt: Date.now() };
    out.push({ path: rel, sha256, bytes: s.size });
  }
  if (memoFile && Object.keys(fresh).length > 0) await writeDigestMemo(memoFile, fresh);
  return out;
}

/** The digest of a set of files: sha256 over `${sha256(file)}  ${relPath}\n` lines sorted by path (sha256sum format). */
export function digestOfHashes(hashes: readonly Pick<FileHash, 'path' | 'sha256'>[]): string {
  const lines = [...hashes]
    .sort((a, b) => byPath(a.path, b.path))
    .map((h) => `${h.sha256}  ${h.path}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

export async function digestFiles(dir: string, relPaths: readonly string[]): Promise<string> {
  return digestOfHashes(await hashFiles(dir, relPaths));
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** The files of `candidates` that exist in dir (relative paths). */
export async function presentFiles(dir: string, candidates: readonly string[]): Promise<string[]> {
  const present: string[] = [];
  for (const rel of candidates) {
    if (await exists(path.join(dir, ...rel.split('/')))) present.push(rel);
  }
  return present;
}

/** The required files of a role that are missing from dir. */
export async function missingRequiredFiles(dir: string, role: ModelRole): Promise<string[]> {
  const required = MODEL_LAYOUTS[role].required;
  const present = new Set(await presentFiles(dir, required));
  return required.filter((f) => !present.has(f));
}

function missingError(dir: string, role: ModelRole, missing: string[]): Error {
  return new Error(
    `The ${role} model folder ${dir} is missing ${missing.join(', ')}. ` +
      `Copy the complete model folder (hub layout) there, or point to another folder.`,
  );
}

/** The model's digest: every file of the role's layout present in dir (required ones must be). */
export async function modelDigest(dir: string, role: ModelRole): Promise<string> {
  const missing = await missingRequiredFiles(dir, role);
  if (missing.length > 0) throw missingError(dir, role, missing);
  return digestFiles(dir, await presentFiles(dir, layoutFiles(role)));
}

/** The conditioning encoder's digest: text_encoder graph (+ external data) and tokenizer files. */
export async function encoderDigest(generatorDir: string): Promise<string> {
  const files = await presentFiles(generatorDir, ENCODER_FILES);
  if (!files.includes('text_encoder/model.onnx')) {
    throw missingError(generatorDir, 'generator', ['text_encoder/model.onnx']);
  }
  return digestFiles(generatorDir, files);
}
