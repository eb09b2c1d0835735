import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export type StaticFile = { file: string; size: number; contentType: string };

/**
 * Maps a URL path to a file inside `root`, or null. Refuses (null) anything that could leave the
 * root: `..` segments (raw or percent-encoded), backslashes, NUL bytes, dot-files, and links
 * whose real path lies outside the root. Only known content types are served, so a stray file in
 * the build folder is never sent as something a browser would execute.
 */
export async function resolveStaticFile(root: string, urlPath: string): Promise<StaticFile | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return null;
  if (segments.length === 0) segments.push('index.html');
  const contentType = CONTENT_TYPES[path.extname(segments[segments.length - 1]!).toLowerCase()];
  if (!contentType) return null;

  const realRoot = await realpath(root);
  const candidate = path.join(realRoot, ...segments);
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return null;
  }
  const rel = path.relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const st = await stat(real);
  if (!st.isFile()) return null;
  return { file: real, size: st.size, contentType };
}

export function openStaticFile(f: StaticFile): NodeJS.ReadableStream {
  return createReadStream(f.file);
}
