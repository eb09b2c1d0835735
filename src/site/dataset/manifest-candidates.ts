import path from 'node:path';
import type { ManifestEntry } from './read-manifest';
import type { ScanCandidate } from './scan-candidate';

/** Whether `abs` lies strictly inside `base` (lexically). */
function isInside(base: string, abs: string): boolean {
  const rel = path.relative(base, abs);
  return rel !== '' && rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

/**
 * Turns manifest rows into scan candidates: one `class` per distinct label first, then one per
 * row. Paths are resolved against the manifest's folder and must stay inside it: a manifest
 * must not be able to pull in files from elsewhere on the machine (`../`, `/etc/…`).
 * The check is on the path as written; symlinks inside the folder are followed on purpose.
 */
export function* manifestCandidates(
  manifestFile: string,
  entries: readonly ManifestEntry[],
): Generator<ScanCandidate> {
  const base = path.dirname(path.resolve(manifestFile));
  const labels = new Set(entries.map((e) => e.label).filter((l) => l !== ''));
  for (const label of labels) yield { kind: 'class', label };
  const seen = new Map<string, string>();
  for (const e of entries) {
    const shown = e.path;
    const label = e.label || undefined;
    if (e.path.trim() === '') {
      yield {
        kind: 'skip',
        path: `(${e.where})`,
        reason: 'missing',
        detail: `${e.where} of the manifest has an empty path`,
        label,
      };
      continue;
    }
    const abs = path.resolve(base, e.path);
    if (!isInside(base, abs)) {
      yield {
        kind: 'skip',
        path: shown,
        reason: 'outside_root',
        detail: `${e.where}: path leads outside the manifest's folder ${base}; manifest paths must stay inside it`,
        label,
      };
      continue;
    }
    const rel = path.relative(base, abs).split(path.sep).join('/');
    const first = seen.get(rel);
    if (first !== undefined) {
      yield {
        kind: 'skip',
        path: shown,
        reason: 'duplicate_entry',
        detail: `${e.where} lists the same file as ${first}; counted once`,
        label,
      };
      continue;
    }
    seen.set(rel, e.where);
    if (!label) {
      yield {
        kind: 'skip',
        path: rel,
        reason: 'no_label',
        detail: `${e.where} has an empty label`,
      };
      continue;
    }
    yield {
      kind: 'file',
      path: rel,
      absPath: abs,
      label,
      ...(e.patientId ? { patientId: e.patientId } : {}),
    };
  }
}
