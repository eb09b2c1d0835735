import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import { ApiError } from '../../shared/api-error';
import { ModelVerificationError, type ModelTrust, verifySignedManifest } from '../../core/models/verify-model-folder';
import type { ModelManifest } from '../../shared/model-manifest';
import { MANIFEST_FILE, SIGNATURE_FILE } from '../../shared/model-manifest';
import { StudyManifest } from '../../shared/study';
import { SiteModelList, type SiteModelRole } from '../../shared/site-model-bundle';
import { EnrollResponse, ModelVersionList, ServerKeyResponse, PackageUploadResponse, RoundStatus, SharedMetricsRecord, StudyList, type SharedMetrics } from '../../shared/server-api';
export type { RoundStatus } from '../../shared/server-api';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { isTlsAnswerToPlainHttp, networkFailure, plainHttpToTlsServer } from './network-failure';
import { isTlsVerificationError, pinnedHttpsAgent, tlsFailure, type TlsPin } from './tls-pinning';

/** An error the server answered with: its code, message and what to do about it. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(`Server refused (${status} ${code}): ${message}`);
    this.name = 'ServerError';
  }
}

export type RetryPolicy = { retries: number; baseMs: number; maxMs: number };
const DEFAULT_RETRY: RetryPolicy = { retries: 6, baseMs: 250, maxMs: 8000 };
/** Someone is waiting at the Connect screen: a server that is not there is said so within seconds. */
/** Enrollment gives up quickly: a missing server is reported within seconds. */
export const ENROLL_RETRY: RetryPolicy = { retries: 2, baseMs: 250, maxMs: 1000 };

/** A model manifest lists a handful of files: 1 MiB is far above any real one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_SIGNATURE_BYTES = 4096;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** Plain HTTP is refused except on loopback: keys and packages must not cross a network in clear. */
export function checkServerUrl(serverUrl: string): URL {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    throw new Error(`"${serverUrl}" is not a URL; use e.g. https://fgl.example.org:8787`);
  }
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname))
    throw new Error(`Refusing plain HTTP to ${url.host}: use https:// (plain http is only allowed on loopback)`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Unsupported URL scheme ${url.protocol}`);
  return url;
}

/** A failure worth retrying that did not come from axios (e.g. a body cut short). */
class TransientError extends Error {}

function isRetryable(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (!isAxiosError(err)) return false;
  // A refused certificate stays refused: retrying would only delay the message.
  if (isTlsVerificationError(err) || isTlsAnswerToPlainHttp(err)) return false;
  if (!err.response) return err.code !== 'ERR_CANCELED'; // network error: reset, refused, timeout
  const s = err.response.status;
  return s >= 500 || s === 429 || s === 408;
}

function toServerError(err: unknown, serverUrl: string): unknown {
  const tls = tlsFailure(err, serverUrl);
  if (tls) return tls;
  if (isAxiosError(err) && err.response) {
    const parsed = ApiError.safeParse(err.response.data);
    if (parsed.success) return new ServerError(err.response.status, parsed.data.error.code, parsed.data.error.message, parsed.data.error.hint);
    return new ServerError(err.response.status, 'http_error', `HTTP ${err.response.status}`);
  }
  return networkFailure(err, serverUrl) ?? err;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** The site's HTTP client (axios). Every call retries network errors and 5xx with backoff + jitter. */
export class SiteClient {
  readonly http: AxiosInstance;
  /**
   * `tlsPin`: the server's TLS CA pinned at enrollment (tls-pinning.ts). With it, https requests
   * trust only that CA; without it, https uses the system's roots (a publicly trusted server).
   */
  constructor(
    readonly serverUrl: string,
    private readonly apiKey?: string,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
    readonly tlsPin: TlsPin | null = null,
  ) {
    const url = checkServerUrl(serverUrl);
    if (tlsPin && url.protocol !== 'https:')
      throw new Error(`This site pinned a TLS CA for its server, but ${url.origin} is not https: refusing to send keys in clear.`);
    this.http = axios.create({
      baseURL: new URL('/v1/', url).toString(),
      timeout: 60_000,
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      maxRedirects: 0,
      ...(tlsPin ? { httpsAgent: pinnedHttpsAgent(tlsPin) } : {}),
    });
  }

  /** Runs `fn` with retries; full jitter keeps many sites from retrying in lockstep. */
  async withRetry<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal?.aborted || attempt >= this.retry.retries || !isRetryable(err)) throw toServerError(err, this.serverUrl);
        // A reset on an http:// address may be a TLS server refusing plain HTTP: say so now.
        if (attempt === 0) {
          const tls = await plainHttpToTlsServer(err, this.serverUrl);
          if (tls) throw tls;
        }
        const retryAfter = isAxiosError(err) ? Number(err.response?.headers['retry-after']) : NaN;
        const cap = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** attempt);
        await sleep(Number.isFinite(retryAfter) ? retryAfter * 1000 : Math.random() * cap, signal);
      }
    }
  }

  private async get<T>(path: string, schema: z.ZodType<T>, signal?: AbortSignal): Promise<T> {
    const res = await this.withRetry(() => this.http.get(path, { signal }), signal);
    return schema.parse(res.data);
  }

  /** The server's public signing key (GET /v1/server-key): public, redeems nothing. */
  async serverKey(signal?: AbortSignal): Promise<ServerKeyResponse> {
    return this.get('server-key', ServerKeyResponse, signal);
  }

  /** POST /v1/enroll with a one-time token (this client must carry no API key). */
  async redeem(token: string): Promise<EnrollResponse> {
    // Enrollment is not idempotent (the token is single-use): retry only when no answer came back.
    const res = await this.withRetry(() => this.http.post('enroll', { token }));
    return EnrollResponse.parse(res.data);
  }

  listStudies(signal?: AbortSignal) {
    return this.get('studies', StudyList, signal);
  }

  async getStudy(studyId: string, signal?: AbortSignal): Promise<StudyManifest> {
    return this.get(`studies/${encodeURIComponent(studyId)}/manifest`, StudyManifest, signal);
  }

  /**
   * PUT a package by its sha256. Idempotent on the server (same bytes = one package), so a retry
   * after a dropped connection or a server restart can never duplicate it.
   */
  async uploadPackage(
    studyId: string,
    file: string,
    opts: { signal?: AbortSignal; onProgress?: ProgressListener } = {},
  ): Promise<{ status: 'created' | 'exists'; sha256: string; bytes: number }> {
    const bytes = await readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const meter = createProgressMeter('upload', bytes.length, opts.onProgress);
    // Each attempt sends the whole package again: progress is the furthest any attempt got,
    // so retries against a server that is down never count the same bytes twice (never > 100 %).
    let counted = 0;
    const res: AxiosResponse = await this.withRetry(
      () =>
        this.http.put(`studies/${encodeURIComponent(studyId)}/packages/${sha256}`, bytes, {
          headers: { 'content-type': 'application/octet-stream' },
          signal: opts.signal,
          maxBodyLength: Infinity,
          onUploadProgress: (e) => {
            const loaded = Math.min(e.loaded, bytes.length);
            if (loaded > counted) {
              meter.advance(loaded - counted);
              counted = loaded;
            }
          },
        }),
      opts.signal,
    );
    const body = PackageUploadResponse.parse(res.data);
    return { status: body.created ? 'created' : 'exists', sha256, bytes: bytes.length };
  }

  latestRound(studyId: string, signal?: AbortSignal): Promise<z.infer<typeof RoundStatus>> {
    return this.get(`studies/${encodeURIComponent(studyId)}/rounds/latest`, RoundStatus, signal);
  }

  /** Send aggregate metrics for a model version; callers do this only on the operator's explicit opt-in. */
  async shareMetrics(studyId: string, version: number, metrics: SharedMetrics, signal?: AbortSignal) {
    const res = await this.withRetry(() => this.http.put(`studies/${encodeURIComponent(studyId)}/models/${version}/evaluation`, metrics, { signal }), signal);
    return SharedMetricsRecord.parse(res.data);
  }

  async listModels(studyId: string, signal?: AbortSignal) {
    return (await this.get(`studies/${encodeURIComponent(studyId)}/models`, ModelVersionList, signal)).models;
  }

  /**
   * Download a model version into `staging` (created if needed; partial files there resume with
   * Range after a dropped connection or an app restart). Nothing is fetched before the manifest
   * checks out: it is capped at MAX_MANIFEST_BYTES, and its signature, the pinned key, the version
   * floor and the study/version it names are verified first (verifySignedManifest). Each file is
   * then capped at its signed size: one byte more aborts the stream as tampering (never retried).
   * The caller still verifies the folder (sha256 of every file) before using it.
   */
  async downloadModelFiles(
    studyId: string,
    version: number,
    staging: string,
    opts: { trust: ModelTrust; signal?: AbortSignal; onProgress?: ProgressListener },
  ): Promise<{ manifest: ModelManifest; bytes: number }> {
    const base = `studies/${encodeURIComponent(studyId)}/models/${version}`;
    const manifestBytes = await this.getCapped(`${base}/${MANIFEST_FILE}`, MAX_MANIFEST_BYTES, opts.signal);
    const sigText = (await this.getCapped(`${base}/${SIGNATURE_FILE}`, MAX_SIGNATURE_BYTES, opts.signal)).toString('utf8');
    const manifest = verifySignedManifest(manifestBytes, sigText, opts.trust);
    if (manifest.studyId !== studyId || manifest.version !== version)
      throw new ModelVerificationError('manifest', `the signed manifest is for ${manifest.studyId} v${manifest.version}, not ${studyId} v${version}`);
    await mkdir(staging, { recursive: true });
    const total = manifest.files.reduce((s, f) => s + f.bytes, 0);
    const meter = createProgressMeter('download', total, opts.onProgress);
    for (const f of manifest.files) {
      const target = join(staging, ...f.path.split('/'));
      await mkdir(dirname(target), { recursive: true });
      await this.withRetry(() => this.fetchWithResume(`${base}/files/${f.path.split('/').map(encodeURIComponent).join('/')}`, target, f.bytes, meter, opts.signal), opts.signal);
    }
    await writeFile(join(staging, MANIFEST_FILE), manifestBytes);
    await writeFile(join(staging, SIGNATURE_FILE), sigText);
    return { manifest, bytes: total };
  }

  /** downloadModelFiles into `${dest}.partial`, then moved to `dest`; for callers that verify `dest` next. */
  async downloadModel(studyId: string, version: number, dest: string, opts: { trust: ModelTrust; signal?: AbortSignal; onProgress?: ProgressListener }): Promise<{ dir: string; manifest: ModelManifest; bytes: number }> {
    const r = await this.downloadModelFiles(studyId, version, `${dest}.partial`, opts);
    await rm(dest, { recursive: true, force: true });
    await rename(`${dest}.partial`, dest);
    return { dir: dest, ...r };
  }

  /** The site-side models (encoder, CLIP, captioner) the study server holds for a study, file by file. */
  async listSiteModels(studyId: string, signal?: AbortSignal): Promise<SiteModelList> {
    return this.get(`studies/${encodeURIComponent(studyId)}/site-models`, SiteModelList, signal);
  }

  /**
   * One file of a site model into `target`, resuming a partial `target` with Range (also after a
   * connection drops mid-file: retried with backoff), never more than `bytes`. The caller checks
   * its sha256.
   */
  async downloadSiteModelFile(
    studyId: string,
    role: SiteModelRole,
    rel: string,
    target: string,
    bytes: number,
    meter: { advance(n: number): void },
    signal?: AbortSignal,
  ): Promise<void> {
    const url = `studies/${encodeURIComponent(studyId)}/site-models/${role}/files/${rel.split('/').map(encodeURIComponent).join('/')}`;
    await mkdir(dirname(target), { recursive: true });
    await this.withRetry(() => this.fetchWithResume(url, target, bytes, meter, signal), signal);
  }

  /** A small file read whole, refused (as a bad manifest, not retried) once it passes `cap` bytes. */
  private async getCapped(path: string, cap: number, signal?: AbortSignal): Promise<Buffer> {
    const res = await this.withRetry(async () => {
      try {
        return await this.http.get(path, { responseType: 'arraybuffer', maxContentLength: cap, signal });
      } catch (e) {
        if (isAxiosError(e) && !e.response && /maxContentLength/.test(e.message))
          throw new ModelVerificationError('manifest', `the server sent more than ${cap} bytes for ${path.split('/').pop()}; a real one is far smaller`);
        throw e;
      }
    }, signal);
    return Buffer.from(res.data as ArrayBuffer);
  }

  private async fetchWithResume(
    path: string,
    target: string,
    expected: number,
    meter: { advance(n: number): void },
    signal?: AbortSignal,
  ): Promise<void> {
    const have = await stat(target).then((s) => s.size, () => 0);
    if (have === expected) return meter.advance(0);
    if (have > expected) await rm(target);
    const from = have > expected ? 0 : have;
    const res = await this.http.get(path, {
      responseType: 'stream',
      signal,
      headers: from > 0 ? { range: `bytes=${from}-` } : {},
      validateStatus: (s) => s === 200 || s === 206,
    });
    // A server that ignores Range answers 200 with the whole file: start over then.
    const append = res.status === 206 && from > 0;
    const stream = res.data as Readable;
    // Never more than the signed size: the first byte past it ends the download as tampering.
    let size = append ? from : 0;
    // Each chunk is written the moment it arrives, synchronously, so the response stream never
    // holds any: a connection dropped mid-file destroys the stream and discards what it buffers
    // (up to 16 kB re-downloaded, seen under load), and a destroyed write stream would drop its
    // own buffer. Every byte that arrived is in `target` and the retry resumes from there.
    const out = await open(target, append ? 'a' : 'w');
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (e: Error) => {
          stream.destroy();
          reject(e);
        };
        stream.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > expected)
            return fail(new ModelVerificationError('file_size', `the server sent more than the ${expected} bytes signed for ${path.split('/files/').pop()}`));
          try {
            writeSync(out.fd, chunk);
          } catch (e) {
            return fail(e as Error);
          }
          meter.advance(chunk.length);
        });
        stream.once('end', resolve);
        stream.once('error', reject);
        stream.once('close', () => reject(new Error('the connection closed before the end of the file')));
      });
    } catch (e) {
      if (e instanceof ModelVerificationError || signal?.aborted) throw e;
      const at = await out.stat().then((st) => st.size, () => 0);
      throw new TransientError(`download of ${path} interrupted at ${at} of ${expected} bytes (${(e as Error).message})`);
    } finally {
      await out.close();
    }
    size = (await stat(target)).size;
    if (size !== expected) throw new TransientError(`download of ${path} ended at ${size} of ${expected} bytes`);
  }
}

