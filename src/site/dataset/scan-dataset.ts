import { availableParallelism } from 'node:os';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { throwIfAborted } from '../../core/image/abortable';
import { DatasetError } from './dataset-error';
import { manifestCandidates } from './manifest-candidates';
import { mapConcurrent } from './map-concurrent';
import { readManifest } from './read-manifest';
import type { ScanCandidate } from './scan-candidate';
import { type ScanProgress, scanProgress } from './scan-progress';
import type { ScannedImage, ScanResult, SkippedFile } from './scan-result';
import { verifyImageFile } from './verify-image-file';
import { walkImageFolder } from './walk-image-folder';

/** Classes with fewer usable images than this are flagged when the caller gives no k. */
export const DEFAULT_K = 5;

export type ScanOptions = {
  /** CSV/JSON manifest (absolute, or relative to `root`); without it `root` is an ImageFolder. */
  manifest?: string;
  /** Decompression-bomb guard (pixels of the first frame). Default 100 million. */
  maxPixels?: number;
  signal?: AbortSignal;
  /** Called at most every 200 ms, and once at the end. */
  onProgress?: (p: ScanProgress) => void;
  /** Files verified at once. Default: CPU count, at most 4. */
  concurrency?: number;
  /** Flag classes with fewer usable images. Default 5. */
  k?: number;
};

/** One result of a streaming scan. `class` announces a class (it may end up with no images). */
export type ScanEvent =
  | { type: 'class'; name: string }
  | { type: 'usable'; image: ScannedImage }
  | { type: 'skipped'; skipped: SkippedFile };

const PROGRESS_EVERY_MS = 200;

async function toEvent(c: ScanCandidate, opts: ScanOptions): Promise<ScanEvent> {
  if (c.kind === 'class') return { type: 'class', name: c.label };
  if (c.kind === 'skip')
    return {
      type: 'skipped',
      skipped: {
        path: c.path,
        reason: c.reason,
        detail: c.detail,
        ...(c.label ? { label: c.label } : {}),
      },
    };
  const v = await verifyImageFile(c.absPath, { maxPixels: opts.maxPixels, signal: opts.signal });
  if (v.ok)
    return {
      type: 'usable',
      image: {
        path: c.path,
        label: c.label,
        ...v.image,
        ...(c.patientId ? { patientId: c.patientId } : {}),
      },
    };
  return {
    type: 'skipped',
    skipped: { path: c.path, reason: v.reason, detail: v.detail, label: c.label },
  };
}

async function resolveRoot(root: string): Promise<string> {
  const abs = path.resolve(root);
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
    throw new DatasetError(
      `Cannot open dataset folder ${abs} (${e.code ?? e.message})`,
      'Check the path and that this account may read it',
    );
  });
  if (!st.isDirectory())
    throw new DatasetError(
      `${abs} is not a folder`,
      'Point the scan at the folder that holds one sub-folder per class, or pass --manifest',
    );
  return abs;
}

/** Counts what the folder walk will hand out, for a progress total; stops when `signal` aborts. */
async function countFolderEntries(root: string, signal: AbortSignal): Promise<number> {
  let n = 0;
  for await (const c of walkImageFolder(root, signal)) if (c.kind !== 'class') n++;
  return n;
}

/**
 * Scans a dataset as a stream of per-file results (unordered; bounded memory). Reads only:
 * files are opened read-only and nothing is written into the dataset folder. Throws
 * DatasetError when the dataset cannot be scanned at all, an AbortError when `signal` aborts.
 */
export async function* scanDatasetStream(
  root: string,
  opts: ScanOptions = {},
): AsyncGenerator<ScanEvent> {
  const { signal } = opts;
  throwIfAborted(signal);
  const rootAbs = await resolveRoot(root);
  const started = Date.now();
  let total: number | null = null;
  let candidates: AsyncIterable<ScanCandidate>;
  // Stops the background counting pass when the scan ends, whichever way it ends.
  const counting = new AbortController();
  if (opts.manifest) {
    const manifestFile = path.resolve(rootAbs, opts.manifest);
    const entries = await readManifest(manifestFile);
    total = entries.length;
    candidates = (async function* () {
      yield* manifestCandidates(manifestFile, entries);
    })();
  } else {
    candidates = walkImageFolder(rootAbs, signal);
    if (opts.onProgress) {
      const countSignal = signal ? AbortSignal.any([signal, counting.signal]) : counting.signal;
      countFolderEntries(rootAbs, countSignal).then(
        (n) => (total = n),
        () => undefined, // an unknown total is fine: progress then reports total null
      );
    }
  }

  let done = 0;
  let lastEmit = -Infinity;
  const concurrency = opts.concurrency ?? Math.min(4, availableParallelism());
  try {
    for await (const ev of mapConcurrent(candidates, concurrency, (c) => toEvent(c, opts))) {
      if (ev.type !== 'class') {
        done++;
        const now = Date.now();
        if (opts.onProgress && now - lastEmit >= PROGRESS_EVERY_MS) {
          lastEmit = now;
          opts.onProgress(scanProgress(done, total, now - started));
        }
      }
      yield ev;
    }
    opts.onProgress?.(scanProgress(done, done, Date.now() - started));
  } finally {
    counting.abort();
  }
}

const byPath = (a: { path: string }, b: { path: string }) =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

/** Scans a dataset (ImageFolder or manifest) and summarises it; see scanDatasetStream. */
export async function scanDataset(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const k = opts.k ?? DEFAULT_K;
  const counts = new Map<string, number>();
  const usable: ScannedImage[] = [];
  const skipped: SkippedFile[] = [];
  for await (const ev of scanDatasetStream(root, opts)) {
    if (ev.type === 'class') counts.set(ev.name, counts.get(ev.name) ?? 0);
    else if (ev.type === 'usable') {
      usable.push(ev.image);
      counts.set(ev.image.label, (counts.get(ev.image.label) ?? 0) + 1);
    } else skipped.push(ev.skipped);
  }
  const classes = [...counts]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    root: path.resolve(root),
    layout: opts.manifest ? 'manifest' : 'folder',
    classes,
    images: usable.length,
    usable: usable.sort(byPath),
    skipped: skipped.sort(byPath),
    smallClasses: classes.filter((c) => c.count < k).map((c) => ({ ...c, k })),
  };
}
