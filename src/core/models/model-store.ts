import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRole } from '../../shared/model-ref';
import { digestOfHashes, hashFiles, missingRequiredFiles, presentFiles } from './model-digest';
import { MODEL_LAYOUTS, layoutFiles } from './model-layouts';

export type HubModelRef = { id: string; revision?: string; sha256?: string };
export type FolderModelRef = { dir: string; sha256?: string };
export type ModelSource = 'folder' | 'cache' | 'download';
export type ResolvedModel = { dir: string; digest: string; source: ModelSource };
export type DownloadProgress = { file: string; bytes: number; total: number | null };
export type ResolveOptions = { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void };

export type ModelStoreOptions = {
  /** One cache for every model; hub layout `<cacheDir>/<id>/<revision>/<file>`. */
  cacheDir: string;
  allowNetwork: boolean;
  /** Default https://huggingface.co; files are fetched from `${remoteHost}/${id}/resolve/${revision}/${path}`. */
  remoteHost?: string;
  fetchImpl?: typeof fetch;
  log?: (line: string) => void;
  /** Attempts per file when a connection drops (each resumes with a Range request). Default 5. */
  maxAttempts?: number;
  /** Wait before attempt n+1 is n × this. Default 1000 ms. */
  retryDelayMs?: number;
};

export const DEFAULT_REMOTE_HOST = 'https://huggingface.co';

/** Written last into a downloaded model folder: its presence means every file arrived. */
const COMPLETE_MARKER = '.fgl-complete.json';
/** Cache folder → the resolution in progress there (see resolve). */
const busyDirs = new Map<string, Promise<unknown>>();
const PART_SUFFIX = '.part';

/** `--models DIR`: one subfolder per role. */
export function modelsFolder(dir: string): Record<ModelRole, string> {
  return {
    clip: path.join(dir, 'clip'),
    captioner: path.join(dir, 'captioner'),
    generator: path.join(dir, 'generator'),
  };
}

/** FGL_ALLOW_NETWORK=1 (or true/yes) opts in to downloading models. */
export function networkAllowedByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.FGL_ALLOW_NETWORK ?? '');
}

const ID_PATTERN = /^[\w.@-]+(\/[\w.@-]+)*$/;
const REVISION_PATTERN = /^[\w.@-]+$/;

/** Ids and revisions become cache paths: refuse anything that could leave the cache. */
function checkHubRef(id: string, revision: string): void {
  const badSegment = (s: string) => s === '.' || s === '..';
  if (!ID_PATTERN.test(id) || id.split('/').some(badSegment)) {
    throw new Error(`Invalid model id "${id}": use a hub id like "Xenova/clip-vit-base-patch32".`);
  }
  if (!REVISION_PATTERN.test(revision) || badSegment(revision)) {
    throw new Error(
      `Invalid model revision "${revision}": use a branch name, tag or commit hash (letters, digits, . _ - @).`,
    );
  }
}

async function fileSize(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch {
    return null;
  }
}

async function listFilesRecursive(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

/** fsync a directory so a rename inside it survives a crash; not possible on Windows, where it is skipped. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fd = await open(dir, 'r');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
  } catch {
    // Directory fsync is unsupported on some platforms; the rename itself is still atomic.
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)), {
      once: true,
    });
  });
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Finds models: a local folder as is, else the cache, else (only if allowed) the hub.
 * Nothing is fetched without `allowNetwork`: sites are often air-gapped and a model copied on a
 * USB stick must be enough.
 */
export class ModelStore {
  readonly cacheDir: string;
  readonly allowNetwork: boolean;
  readonly remoteHost: string;
  private readonly fetchImpl: typeof fetch;
  private readonly log: (line: string) => void;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;

  constructor(opts: ModelStoreOptions) {
    this.cacheDir = path.resolve(opts.cacheDir);
    this.allowNetwork = opts.allowNetwork;
    this.remoteHost = (opts.remoteHost ?? DEFAULT_REMOTE_HOST).replace(/\/+$/, '');
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.log = opts.log ?? (() => {});
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.retryDelayMs = opts.retryDelayMs ?? 1000;
  }

  /** Where a hub model lives in this cache (whether or not it is there). */
  cachePath(id: string, revision = 'main'): string {
    checkHubRef(id, revision);
    return path.join(this.cacheDir, ...id.split('/'), revision);
  }

  async resolve(
    ref: HubModelRef | FolderModelRef,
    role: ModelRole,
    opts: ResolveOptions = {},
  ): Promise<ResolvedModel> {
    if ('dir' in ref) {
      const dir = path.resolve(ref.dir);
      const missing = await missingRequiredFiles(dir, role);
      if (missing.length > 0) {
        throw new Error(
          `The ${role} model folder ${dir} is incomplete: missing ${missing.join(', ')}. ` +
            `Copy the whole model folder (hub layout: ${MODEL_LAYOUTS[role].required.join(', ')}).`,
        );
      }
      const digest = await this.digest(dir, role);
      this.checkDigest(`${role} model folder ${dir}`, digest, ref.sha256);
      return { dir, digest, source: 'folder' };
    }

    const revision = ref.revision ?? 'main';
    const dir = this.cachePath(ref.id, revision);
    // One resolution per cache folder at a time in this process (across stores): two downloads
    // into the same .part files would corrupt each other.
    const previous = busyDirs.get(dir) ?? Promise.resolve();
    const mine = previous
      .catch(() => {})
      .then(() => this.resolveHub(ref, role, revision, dir, opts));
    const tail = mine.catch(() => {});
    busyDirs.set(dir, tail);
    void tail.then(() => {
      if (busyDirs.get(dir) === tail) busyDirs.delete(dir);
    });
    return mine;
  }

  private async resolveHub(
    ref: HubModelRef,
    role: ModelRole,
    revision: string,
    dir: string,
    opts: ResolveOptions,
  ): Promise<ResolvedModel> {
    const name = `${ref.id}@${revision}`;
    if (await this.isComplete(dir, role)) {
      const digest = await this.digest(dir, role);
      if (ref.sha256 !== undefined && digest !== ref.sha256) {
        throw new Error(
          `The cached ${role} model ${name} in ${dir} has sha256 ${digest}, but ${ref.sha256} is expected. ` +
            `Delete ${dir} and copy the exact model the study names (or download it again with network access).`,
        );
      }
      return { dir, digest, source: 'cache' };
    }

    if (!this.allowNetwork) throw await this.offlineError(name, dir, role);

    await this.download(ref.id, revision, dir, role, opts);
    const digest = await this.digest(dir, role);
    if (ref.sha256 !== undefined && digest !== ref.sha256) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(
        `Downloaded ${role} model ${name} has sha256 ${digest}, but ${ref.sha256} is expected; it was deleted. ` +
          `Check the model id and revision the study names (pin a commit hash rather than a branch).`,
      );
    }
    await writeFile(
      path.join(dir, COMPLETE_MARKER),
      JSON.stringify({ id: ref.id, revision, role, digest }) + '\n',
    );
    return { dir, digest, source: 'download' };
  }

  private checkDigest(what: string, actual: string, expected: string | undefined): void {
    if (expected !== undefined && actual !== expected) {
      throw new Error(
        `The ${what} has sha256 ${actual}, but ${expected} is expected. Use the exact model the study names.`,
      );
    }
  }

  /** Downloaded (marker) or copied in by hand (required files there, no half-downloaded file). */
  private async isComplete(dir: string, role: ModelRole): Promise<boolean> {
    if ((await missingRequiredFiles(dir, role)).length > 0) return false;
    if ((await fileSize(path.join(dir, COMPLETE_MARKER))) !== null) return true;
    const files = await listFilesRecursive(dir);
    return !files.some((f) => f.endsWith(PART_SUFFIX));
  }

  private async offlineError(name: string, dir: string, role: ModelRole): Promise<Error> {
    const missing = await missingRequiredFiles(dir, role);
    const partial = missing.length < MODEL_LAYOUTS[role].required.length;
    return new Error(
      `The ${role} model ${name} is not in the model cache${partial ? ` (incomplete: missing ${missing.join(', ')})` : ''} ` +
        `and network access is off. Either copy the model folder to ${dir} ` +
        `(files: ${MODEL_LAYOUTS[role].required.join(', ')}), or pass --models DIR with DIR/${role} holding it, ` +
        `or allow downloading from ${this.remoteHost} with FGL_ALLOW_NETWORK=1.`,
    );
  }

  private async download(
    id: string,
    revision: string,
    dir: string,
    role: ModelRole,
    opts: ResolveOptions,
  ): Promise<void> {
    const required = new Set(MODEL_LAYOUTS[role].required);
    this.log(`Downloading ${role} model ${id}@${revision} from ${this.remoteHost} into ${dir}`);
    for (const rel of layoutFiles(role)) {
      const dest = path.join(dir, ...rel.split('/'));
      if ((await fileSize(dest)) !== null) continue;
      const url = `${this.remoteHost}/${id}/resolve/${encodeURIComponent(revision)}/${rel}`;
      const got = await this.downloadFile(url, dest, rel, opts);
      if (!got && required.has(rel)) {
        throw new Error(
          `${url} was not found (404): ${id}@${revision} does not look like a ${role} model in the expected layout ` +
            `(${MODEL_LAYOUTS[role].required.join(', ')}). Check the model id, or export it to that layout.`,
        );
      }
    }
  }

  /** Streams to `<dest>.part`, resuming with Range after a dropped connection; fsync + rename. False on 404. */
  private async downloadFile(
    url: string,
    dest: string,
    rel: string,
    opts: ResolveOptions,
  ): Promise<boolean> {
    const part = dest + PART_SUFFIX;
    await mkdir(path.dirname(dest), { recursive: true });
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await sleep(this.retryDelayMs * (attempt - 1), opts.signal);
      try {
        const done = await this.fetchOnce(url, part, rel, opts);
        if (done === 'missing') return false;
        if (done === 'complete') {
          await rename(part, dest);
          await syncDir(path.dirname(dest));
          return true;
        }
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        if (err instanceof HttpStatusError && err.status !== 429 && err.status < 500) throw err;
        lastError = err;
      }
      const have = (await fileSize(part)) ?? 0;
      this.log(
        `Download of ${rel} interrupted at ${have} bytes (${String(lastError ?? 'short read')}); resuming`,
      );
    }
    throw new Error(
      `Could not download ${url} after ${this.maxAttempts} attempts (${String(lastError)}). ` +
        `Run the command again to resume, or copy the model folder by hand.`,
    );
  }

  private async fetchOnce(
    url: string,
    part: string,
    rel: string,
    opts: ResolveOptions,
  ): Promise<'complete' | 'missing' | 'short'> {
    let offset = (await fileSize(part)) ?? 0;
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const res = await this.fetchImpl(url, { headers, signal: opts.signal, redirect: 'follow' });
    if (res.status === 404) {
      await res.body?.cancel();
      await rm(part, { force: true });
      return 'missing';
    }
    if (res.status === 416) {
      // The partial file does not fit what the server has now: start over.
      await res.body?.cancel();
      await rm(part, { force: true });
      return 'short';
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403
          ? ' The repository may be private or gated: download it elsewhere and copy the folder.'
          : '';
      throw new HttpStatusError(
        res.status,
        `Download of ${url} failed: HTTP ${res.status} ${res.statusText}.${hint}`,
      );
    }
    if (res.status === 200) offset = 0; // server ignored the Range: rewrite from the start
    const total = totalSize(res, offset);
    const fd = await open(part, offset > 0 ? 'a' : 'w');
    let bytes = offset;
    try {
      if (res.body) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await fd.write(value);
          bytes += value.length;
          opts.onProgress?.({ file: rel, bytes, total });
        }
      }
      await fd.sync();
    } finally {
      await fd.close();
    }
    return total === null || bytes === total ? 'complete' : 'short';
  }

  /** Digest of a model folder; big files' hashes are memoized by file stamps (hashFiles), so gigabytes are hashed once. */
  private async digest(dir: string, role: ModelRole): Promise<string> {
    return digestOfHashes(await hashFiles(dir, await presentFiles(dir, layoutFiles(role))));
  }
}

function totalSize(res: Response, offset: number): number | null {
  const range = res.headers.get('content-range');
  const m = range ? /\/(\d+)\s*$/.exec(range) : null;
  if (m) return Number(m[1]);
  const len = res.headers.get('content-length');
  return len !== null && /^\d+$/.test(len) ? offset + Number(len) : null;
}
