import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { recordFigures } from '../reliability-figures';
import { buildStudyManifest } from '../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../src/cli/study/models-folder';
import type { CreateStudyBody, EnrollResponse, RoundStatus } from '../../../src/shared/server-api';
import type { StudyManifest } from '../../../src/shared/study';
import { REPO_ROOT, spawnTsChild, type TsChild } from '../../helpers/child-process';

export const SERVER_CHILD = 'tests/fixtures/faults/server-child.ts';

export { freePort } from '../../helpers/free-port';

export type ServerChildArgs = {
  dataDir: string;
  port: number;
  modelsDir?: string | null;
  extraShardBytes?: number;
  maxPackageBytes?: number;
  queue?: { url: string; batchImages: number; checkMs: number };
  /** A PostgreSQL store URL (API replicas share it); default SQLite in the data dir. */
  store?: string;
};

/** Start tests/fixtures/faults/server-child.ts and wait until it listens. */
export async function startServerChild(
  a: ServerChildArgs,
  opts: { name?: string; fsizeLimit?: number } = {},
): Promise<{ child: TsChild; url: string; startMs: number }> {
  const t0 = performance.now();
  const child = spawnTsChild(SERVER_CHILD, [JSON.stringify(a)], {
    name: opts.name ?? 'server',
    ...(opts.fsizeLimit !== undefined ? { fsizeLimit: opts.fsizeLimit } : {}),
  });
  const line = await child.waitForLine((l) => l.json?.fault === 'listening', {
    timeoutMs: 60_000,
    what: '"listening"',
  });
  return { child, url: String(line.json!.url), startMs: performance.now() - t0 };
}

export type ApiResult = { status: number; json: unknown; text: string };

/** JSON calls to a server, with the admin key read from its data dir (or a site key). */
export function apiClient(url: string, key: string) {
  return async (
    method: string,
    urlPath: string,
    body?: unknown | Uint8Array,
  ): Promise<ApiResult> => {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    let payload: RequestInit['body'];
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(url + urlPath, { method, headers, body: payload });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, json, text };
  };
}

export async function readAdminKeyFile(dataDir: string): Promise<string> {
  return (await fs.readFile(path.join(dataDir, 'keys', 'admin.key'), 'utf8')).trim();
}

function expectStatus(r: ApiResult, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
}

/** A study over the tiny models (as `fgl study init --models tiny` would make), with fast settings. */
export async function tinyStudyBody(
  modelsDir: string,
  o: { name: string; imagesPerRow: number; steps: number; epochs?: number; classes?: string[] },
): Promise<CreateStudyBody> {
  const manifest = buildStudyManifest({
    name: o.name,
    classes: o.classes ?? ['circle', 'square', 'triangle'],
    models: await describeModelsFolder(modelsDir),
    k: 3,
    imagesPerRow: o.imagesPerRow,
    steps: o.steps,
  });
  const { id: _id, createdAt: _c, ...body } = manifest;
  return { ...body, training: { ...body.training, epochs: o.epochs ?? 10 } };
}

export async function createStudyOn(
  api: ReturnType<typeof apiClient>,
  body: CreateStudyBody,
): Promise<StudyManifest> {
  const r = await api('POST', '/v1/studies', body);
  expectStatus(r, 201, 'create study');
  return r.json as StudyManifest;
}

export async function enrollOn(
  url: string,
  api: ReturnType<typeof apiClient>,
  studyId: string,
  siteName: string,
): Promise<{ siteId: string; apiKey: string; serverPublicKey: string; fingerprint: string }> {
  const t = await api('POST', `/v1/studies/${studyId}/enrollment-tokens`, { siteName });
  expectStatus(t, 201, 'enrollment token');
  const token = (t.json as { token: string }).token;
  const res = await fetch(`${url}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  const e = (await res.json()) as EnrollResponse;
  if (res.status !== 201 || !e.apiKey) throw new Error(`enroll: ${res.status}`);
  return {
    siteId: e.siteId,
    apiKey: e.apiKey,
    serverPublicKey: e.serverPublicKey,
    fingerprint: e.serverKeyFingerprint,
  };
}

/** A token for a site to enroll itself with (enrollSite in the site code). */
export async function issueTokenOn(
  api: ReturnType<typeof apiClient>,
  studyId: string,
  siteName: string,
): Promise<string> {
  const t = await api('POST', `/v1/studies/${studyId}/enrollment-tokens`, { siteName });
  expectStatus(t, 201, 'enrollment token');
  return (t.json as { token: string }).token;
}

/** Open a server store or ledger read-only from the test, beside the process that writes it. */
export function openReadonly(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

/** One query on a fresh read-only connection (WAL: sees every commit of the writer so far). */
export function queryOnce<T>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = openReadonly(file);
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function integrityCheck(file: string): string[] {
  const db = new Database(file, { fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
  } finally {
    db.close();
  }
}

export function roundRow(
  dbFile: string,
  roundId: string,
): { state: RoundStatus['state']; error: string | null; model_version: number | null } | undefined {
  return queryOnce<{
    state: RoundStatus['state'];
    error: string | null;
    model_version: number | null;
  }>(dbFile, 'SELECT state, error, model_version FROM rounds WHERE id = ?', roundId)[0];
}

export function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** Every regular file under `dir` → sha256, relative paths: "byte-identical" compares two of these. */
export async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out[path.relative(dir, full)] = sha256Hex(await fs.readFile(full));
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export type FaultRecord = {
  suite: string;
  test: string;
  fault: string;
  /** What the process was doing when it died, as observed from outside. */
  injectedAt: Record<string, unknown>;
  recovered: boolean;
  /** From restart to the operation's completion. */
  recoverySeconds: number | null;
  details?: Record<string, unknown>;
};

const ARTIFACT = path.join(REPO_ROOT, 'test-artifacts', 'reliability', 'faults.json');

/**
 * Append figures to test-artifacts/reliability/faults.json (docs/reliability.md cites them).
 * Several test files write at once: a lock directory serialises the read-modify-write.
 */
export async function recordFault(r: FaultRecord): Promise<void> {
  // One line per fault in the shared figures file too, so docs/reliability.md's table shows it.
  recordFigures('faults', r.test, {
    fault: r.fault,
    recovered: r.recovered,
    ...(r.recoverySeconds !== null ? { recoverySeconds: Number(r.recoverySeconds.toFixed(2)) } : {}),
    ...Object.fromEntries(Object.entries(r.injectedAt).filter((e): e is [string, number | string | boolean] => ['number', 'string', 'boolean'].includes(typeof e[1])).map(([k, v]) => [`at ${k}`, v])),
  });
  await fs.mkdir(path.dirname(ARTIFACT), { recursive: true });
  const lock = `${ARTIFACT}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fs.mkdir(lock);
      break;
    } catch {
      // A lock older than the deadline is from a killed test run: take it over.
      if (Date.now() > deadline) {
        await fs.rm(lock, { recursive: true, force: true });
        continue;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  try {
    let doc: { format: string; note: string; records: unknown[] } = {
      format: 'fgl-fault-injection-log',
      note: 'Appended by tests/reliability/faults/*.test.ts; one record per injected fault. Tiny models: timings show plumbing, not real-model cost.',
      records: [],
    };
    try {
      const parsed = JSON.parse(await fs.readFile(ARTIFACT, 'utf8')) as typeof doc;
      if (Array.isArray(parsed.records)) doc = parsed;
    } catch {
      // first record, or an unreadable file: start over
    }
    doc.records.push({
      at: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      ...r,
    });
    // Keep the file bounded across many runs.
    doc.records = doc.records.slice(-500);
    const tmp = `${ARTIFACT}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(doc, null, 2) + '\n');
    await fs.rename(tmp, ARTIFACT);
  } finally {
    await fs.rm(lock, { recursive: true, force: true });
  }
}

/** Package metadata of a package without differential privacy. */
export const NO_DP = { dp_epsilon: null, dp_delta: null, dp_clip: null, dp_sigma: null };
