import { createHash } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import axios, { type AxiosInstance, isAxiosError } from 'axios';
import { createProgressMeter, type ProgressListener } from '../../shared/progress';
import { certFingerprint, pinnedHttpsAgent } from '../client/tls-pinning';

/** QIDO-RS study filters (PS3.18 §10.6). Dates are YYYYMMDD. */
export type DicomwebQuery = {
  modality?: string;
  /** Matched by the PACS; `*` and `?` wildcards as DICOM allows. */
  studyDescription?: string;
  dateFrom?: string;
  dateTo?: string;
  /** At most this many studies. */
  limit?: number;
};

export type DicomwebAuth =
  { kind: 'basic'; user: string; password: string } | { kind: 'bearer'; token: string };

export type DicomwebImportOptions = {
  /** The DICOMweb root, e.g. https://pacs.example.org/dicom-web */
  url: string;
  query: DicomwebQuery;
  /** The local cache folder the scan then reads. */
  outDir: string;
  auth?: DicomwebAuth;
  /** PEM of the CA that must have issued the PACS's certificate (pinned: the only trust anchor). */
  caPem?: string;
  signal?: AbortSignal;
  onProgress?: ProgressListener;
};

export type DicomwebImportResult = {
  outDir: string;
  studies: number;
  instances: number;
  /** Retrieved by this run, and found complete from an earlier one (resume). */
  downloaded: number;
  alreadyPresent: number;
  bytes: number;
};

/** A user-facing import failure: what went wrong and what to do. Never names a patient or UID. */
export class DicomwebImportError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DicomwebImportError';
  }
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

const STUDY_UID = '0020000D';
const SERIES_UID = '0020000E';
const SOP_UID = '00080018';

const DATE = /^\d{8}$/;

/**
 * File names in the cache are keyed hashes of the UIDs, never the UIDs themselves: paths end up
 * in the local ledger and in scan reports, and a Study Instance UID identifies a patient's study.
 */
export function cacheName(uid: string): string {
  return createHash('sha256').update(`fgl-dicomweb\0${uid}`).digest('hex').slice(0, 32);
}

function first(item: DicomJson, tag: string): string | undefined {
  const v = item[tag]?.Value?.[0];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function failure(e: unknown, url: string, what: string): DicomwebImportError {
  if (isAxiosError(e)) {
    const status = e.response?.status;
    if (status === 401 || status === 403)
      return new DicomwebImportError(
        `The PACS at ${url} refused the credentials (${status}) while ${what}`,
        'Check --user with FGL_DICOMWEB_PASSWORD, or --bearer with FGL_DICOMWEB_TOKEN',
      );
    if (status === 404)
      return new DicomwebImportError(
        `The PACS at ${url} answered 404 while ${what}`,
        'Check the DICOMweb root (often …/dicom-web or …/wado-rs)',
      );
    if (status)
      return new DicomwebImportError(
        `The PACS at ${url} answered ${status} while ${what}`,
        'Try again later; a rerun resumes',
      );
    const code = e.code ?? '';
    if (
      /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_FGL_TLS/.test(code) ||
      /certificate/i.test(e.message)
    )
      return new DicomwebImportError(
        `The PACS at ${url} presented a certificate that does not chain to the pinned CA (${code || e.message})`,
        'Pass the CA that issued the PACS certificate with --ca FILE (PEM), or ask the PACS administrators which one it is',
      );
    return new DicomwebImportError(
      `Cannot reach the PACS at ${url} (${code || e.message}) while ${what}`,
      'Check the URL, the network and that the DICOMweb service runs; a rerun resumes',
    );
  }
  return e instanceof DicomwebImportError
    ? e
    : new DicomwebImportError(`${what}: ${(e as Error).message}`);
}

/** The bodies of a multipart/related response (PS3.18 §8.7.3.3.2). */
export function multipartBodies(body: Buffer, contentType: string): Buffer[] {
  const m = /boundary="?([^";]+)"?/i.exec(contentType);
  if (!m)
    throw new DicomwebImportError(`the PACS sent "${contentType}" instead of multipart/related`);
  const delim = Buffer.from(`--${m[1]}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delim);
  while (at >= 0) {
    const start = at + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headersEnd = body.indexOf('\r\n\r\n', start);
    if (headersEnd < 0) break;
    const next = body.indexOf(delim, headersEnd + 4);
    if (next < 0) break;
    // The body ends before the CRLF that precedes the next delimiter.
    parts.push(body.subarray(headersEnd + 4, next - 2));
    at = next;
  }
  return parts;
}

function client(o: DicomwebImportOptions): AxiosInstance {
  const url = new URL(o.url.endsWith('/') ? o.url : `${o.url}/`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new DicomwebImportError(
      `${o.url} is not an http(s) URL`,
      'Give the DICOMweb root, e.g. https://pacs.example.org/dicom-web',
    );
  if (o.caPem && url.protocol !== 'https:')
    throw new DicomwebImportError(
      '--ca pins a TLS CA, but the PACS URL is not https',
      'Use the https URL of the DICOMweb service',
    );
  if (
    o.auth &&
    url.protocol !== 'https:' &&
    !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
  )
    throw new DicomwebImportError(
      `Refusing to send credentials in clear to ${url.origin}`,
      'Use the https URL of the DICOMweb service',
    );
  const headers: Record<string, string> = {};
  if (o.auth?.kind === 'basic')
    headers.authorization = `Basic ${Buffer.from(`${o.auth.user}:${o.auth.password}`).toString('base64')}`;
  if (o.auth?.kind === 'bearer') headers.authorization = `Bearer ${o.auth.token}`;
  return axios.create({
    baseURL: url.toString(),
    headers,
    timeout: 120_000,
    maxRedirects: 0,
    ...(o.caPem
      ? {
          httpsAgent: pinnedHttpsAgent({ caPem: o.caPem, caFingerprint: certFingerprint(o.caPem) }),
        }
      : {}),
  });
}

function studyParams(q: DicomwebQuery): Record<string, string> {
  for (const [k, v] of [
    ['--from', q.dateFrom],
    ['--to', q.dateTo],
  ] as const)
    if (v !== undefined && !DATE.test(v))
      throw new DicomwebImportError(
        `${k} ${v} is not a date`,
        'Write dates as YYYYMMDD, e.g. 20240131',
      );
  const p: Record<string, string> = {};
  if (q.modality) p.ModalitiesInStudy = q.modality;
  if (q.studyDescription) p.StudyDescription = q.studyDescription;
  if (q.dateFrom || q.dateTo) p.StudyDate = `${q.dateFrom ?? ''}-${q.dateTo ?? ''}`;
  if (q.limit) p.limit = String(q.limit);
  return p;
}

async function writeReadOnly(file: string, bytes: Buffer): Promise<void> {
  const tmp = `${file}.partial`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await chmod(file, 0o444);
}

/**
 * Searches a PACS over QIDO-RS (studies by modality, description, date range), then retrieves
 * each instance over WADO-RS into `outDir/<study>/<instance>.dcm` (hashed names, read-only
 * files). Resumable: instances already in the cache are not fetched again, and an interrupted
 * file is never taken for a complete one (written to `.partial`, then renamed).
 */
export async function importFromDicomweb(o: DicomwebImportOptions): Promise<DicomwebImportResult> {
  const http = client(o);
  const url = o.url;
  const signal = o.signal;
  let studies: DicomJson[];
  try {
    const res = await http.get<DicomJson[]>('studies', {
      params: studyParams(o.query),
      headers: { accept: 'application/dicom+json' },
      signal,
    });
    studies = Array.isArray(res.data) ? res.data : [];
  } catch (e) {
    if (signal?.aborted) throw e;
    throw failure(e, url, 'searching studies');
  }
  const work: { study: string; series: string; sop: string }[] = [];
  for (const [i, s] of studies.entries()) {
    const study = first(s, STUDY_UID);
    if (!study) continue;
    let instances: DicomJson[];
    try {
      const res = await http.get<DicomJson[]>(`studies/${encodeURIComponent(study)}/instances`, {
        headers: { accept: 'application/dicom+json' },
        signal,
      });
      instances = Array.isArray(res.data) ? res.data : [];
    } catch (e) {
      if (signal?.aborted) throw e;
      throw failure(e, url, `listing the instances of study ${i + 1} of ${studies.length}`);
    }
    for (const inst of instances) {
      const series = first(inst, SERIES_UID);
      const sop = first(inst, SOP_UID);
      if (series && sop) work.push({ study, series, sop });
    }
  }

  await mkdir(o.outDir, { recursive: true });
  const meter = createProgressMeter('import', work.length, o.onProgress);
  let downloaded = 0;
  let alreadyPresent = 0;
  let bytes = 0;
  for (const [i, w] of work.entries()) {
    signal?.throwIfAborted();
    const dir = path.join(o.outDir, cacheName(w.study));
    const file = path.join(dir, `${cacheName(w.sop)}.dcm`);
    const have = await stat(file).catch(() => null);
    if (have?.isFile() && have.size > 0) {
      alreadyPresent++;
      bytes += have.size;
      meter.advance(1);
      continue;
    }
    let body: Buffer;
    let type: string;
    try {
      const res = await http.get<ArrayBuffer>(
        `studies/${encodeURIComponent(w.study)}/series/${encodeURIComponent(w.series)}/instances/${encodeURIComponent(w.sop)}`,
        {
          // transfer-syntax=*: as stored, so nothing is transcoded (or lost) on the way.
          headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
          responseType: 'arraybuffer',
          signal,
        },
      );
      body = Buffer.from(res.data);
      type = String(res.headers['content-type'] ?? '');
    } catch (e) {
      if (signal?.aborted) throw e;
      throw failure(e, url, `retrieving instance ${i + 1} of ${work.length}`);
    }
    const parts = multipartBodies(body, type);
    const dicom = parts.find(
      (p) => p.length > 132 && p.subarray(128, 132).toString('latin1') === 'DICM',
    );
    if (!dicom)
      throw new DicomwebImportError(
        `The PACS sent no DICOM file for instance ${i + 1} of ${work.length}`,
        'Check that the URL is the DICOMweb root; a rerun resumes',
      );
    await mkdir(dir, { recursive: true });
    await rm(`${file}.partial`, { force: true });
    await writeReadOnly(file, dicom);
    downloaded++;
    bytes += dicom.length;
    meter.advance(1);
  }
  return {
    outDir: path.resolve(o.outDir),
    studies: studies.length,
    instances: work.length,
    downloaded,
    alreadyPresent,
    bytes,
  };
}
