import {
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  recordFigures as appendFigure,
  type FigureValue,
} from '../reliability/reliability-figures';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the reliability suites write their figures (gitignored, uploaded by CI as artifacts). */
export function reliabilityArtifact(name: string): string {
  return join(repoRoot, 'test-artifacts', 'reliability', name);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Nested figures as one flat row ({a: {b: 1}} → {"a b": 1}) for the shared figures table. */
function flatten(figures: object, prefix = ''): Record<string, FigureValue> {
  const out: Record<string, FigureValue> = {};
  for (const [k, v] of Object.entries(figures)) {
    const key = prefix ? `${prefix} ${k}` : k;
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[key] = v;
    else if (v && typeof v === 'object') Object.assign(out, flatten(v as object, key));
  }
  return out;
}

/**
 * Merge `figures` under `section` into test-artifacts/reliability/<file> (JSON object), and append
 * them flattened to the shared figures.jsonl (area `access`, name `section`) that
 * docs/reliability.md is built from. Vitest runs test files in parallel processes, so the
 * read-merge-write holds a lock file (O_EXCL).
 */
export function recordFigures(file: string, section: string, figures: object): void {
  appendFigure('access', section, flatten(figures));
  const target = reliabilityArtifact(file);
  mkdirSync(dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  let fd: number | undefined;
  for (let i = 0; i < 200 && fd === undefined; i++) {
    try {
      fd = openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      sleepSync(25);
    }
  }
  // A lock left by a killed run must not block forever: after ~5 s, take it over.
  if (fd === undefined) fd = openSync(lock, 'w');
  try {
    let doc: Record<string, unknown> = {};
    try {
      doc = JSON.parse(readFileSync(target, 'utf8')) as Record<string, unknown>;
    } catch {
      // first writer, or a damaged file: start over
    }
    doc[section] = { ...(figures as object), recordedAt: new Date().toISOString() };
    const tmp = `${target}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
    renameSync(tmp, target);
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}
