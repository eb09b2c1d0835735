import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
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

/** Hashes of the given files (relative to dir, '/'-separated), sorted by path. */
export async function hashFiles(dir: string, relPaths: readonly string[]): Promise<FileHash[]> {
  const sorted = [...new Set(relPaths)].sort(byPath);
  const out: FileHash[] = [];
  for (const rel of sorted) {
    const { sha256, bytes } = await hashFile(path.join(dir, ...rel.split('/')));
    out.push({ path: rel, sha256, bytes });
  }
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
