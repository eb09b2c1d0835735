import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encodePackage } from '../../src/shared/embedding-package';
import type { PackageMetadata } from '../../src/shared/package-format';
import type { StudyManifest } from '../../src/shared/study';
import type {
  CreateStudyBody,
  EnrollResponse,
  EnrollmentTokenResponse,
} from '../../src/shared/server-api';
import { readAdminKey } from '../../src/server/auth/admin-key';
import { createServer, type FglServer } from '../../src/server/create-server';
import { publishModel } from '../../src/server/publish/publish-model';
import type { RoundStages } from '../../src/server/jobs/round-stages';
import type { ServerLimits } from '../../src/server/server-config';
import type { SiteModelSource } from '../../src/server/api/site-model-routes';
import { storeSql } from './store-sql';

export type ApiResponse = {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
  bytes: Uint8Array;
};

export type TestServer = {
  server: FglServer;
  url: string;
  dataDir: string;
  adminKey: string;
  /** Every log line the server wrote (JSON strings). */
  logs: string[];
  /** Move the server's clock forward (token expiry) without sleeping. */
  advanceClock(ms: number): void;
  api(
    method: string,
    urlPath: string,
    opts?: { key?: string; json?: unknown; body?: Uint8Array; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  close(): Promise<void>;
};

/** Start a real server on 127.0.0.1:<free port> over a fresh temp data dir, logs captured. */
export async function startTestServer(
  opts: {
    limits?: Partial<ServerLimits>;
    stages?: RoundStages | null;
    dataDir?: string;
    /** A PostgreSQL store URL (tests/helpers/store-engines.ts); default: SQLite in the data dir. */
    store?: string;
    siteModels?: SiteModelSource | null;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-server-test-')));
  const logs: string[] = [];
  let offsetMs = 0;
  const server = await createServer({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    ...(opts.limits ? { limits: opts.limits } : {}),
    stages: opts.stages ?? null,
    ...(opts.siteModels ? { siteModels: opts.siteModels } : {}),
    ...(opts.store !== undefined ? { store: opts.store } : {}),
    clock: () => new Date(Date.now() + offsetMs),
    logger: { level: 'debug', destination: { write: (s: string) => void logs.push(s) } },
  });
  const url = await server.start();
  const adminKey = await readAdminKey(server.layout.adminKey);
  const api: TestServer['api'] = async (method, urlPath, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    let body: RequestInit['body'];
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.body !== undefined) {
      headers['content-type'] ??= 'application/octet-stream';
      body = o.body;
    }
    const res = await fetch(url + urlPath, { method, headers, body });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, text, json, bytes };
  };
  return {
    server,
    url,
    dataDir,
    adminKey,
    logs,
    advanceClock: (ms) => void (offsetMs += ms),
    api,
    async close() {
      await server.close();
      if (!opts.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const TEST_ENCODER_SHA = createHash('sha256').update('tiny text encoder').digest('hex');
export const TEST_DIM = 8;

export function studyBody(overrides: Partial<CreateStudyBody> = {}): CreateStudyBody {
  return {
    name: 'Test study',
    classes: ['cat', 'dog', 'bird'],
    prompts: {
      templates: ['{class}, real world images, high resolution'],
      instanceTemplate: '{class}, {caption}, real world images, high resolution.',
      modes: ['class', 'instance'],
    },
    encoder: { id: 'fgl-tiny/text-encoder', sha256: TEST_ENCODER_SHA, dim: TEST_DIM },
    clip: { id: 'fgl-tiny/clip' },
    captioner: null,
    generator: { model: { id: 'fgl-tiny/sd' } },
    privacy: { k: 3, maxEpsilon: 8 },
    training: {},
    ...overrides,
  };
}

export async function createStudy(
  t: TestServer,
  overrides: Partial<CreateStudyBody> = {},
): Promise<StudyManifest> {
  const res = await t.api('POST', '/v1/studies', { key: t.adminKey, json: studyBody(overrides) });
  if (res.status !== 201) throw new Error(`create study: ${res.status} ${res.text}`);
  return res.json as StudyManifest;
}

export async function issueToken(
  t: TestServer,
  studyId: string,
  siteName: string,
  ttlSec?: number,
): Promise<EnrollmentTokenResponse> {
  const res = await t.api('POST', `/v1/studies/${studyId}/enrollment-tokens`, {
    key: t.adminKey,
    json: { siteName, ...(ttlSec !== undefined ? { ttlSec } : {}) },
  });
  if (res.status !== 201) throw new Error(`issue token: ${res.status} ${res.text}`);
  return res.json as EnrollmentTokenResponse;
}

export async function enrollSite(
  t: TestServer,
  studyId: string,
  siteName: string,
): Promise<EnrollResponse & { apiKey: string }> {
  const { token } = await issueToken(t, studyId, siteName);
  const res = await t.api('POST', '/v1/enroll', { json: { token } });
  if (res.status !== 201) throw new Error(`enroll: ${res.status} ${res.text}`);
  return res.json as EnrollResponse & { apiKey: string };
}

export type PackageOverrides = {
  metadata?: Partial<PackageMetadata>;
  n?: number;
  dim?: number;
  labels?: number[];
  counts?: number[];
  dtype?: 'F16' | 'F32';
  /** Value written at conditioning[0] (e.g. 1e6 to overflow F16 is refused by the encoder). */
  seed?: number;
};

/** Package metadata that passes the server's policy for `study` (DP fields filled in). */
export function validMetadata(study: StudyManifest, siteId: string): PackageMetadata {
  return {
    format: 'fgl-embedding-package',
    format_version: '1',
    study_id: study.id,
    site_id: siteId,
    encoder_id: study.encoder.id,
    encoder_sha256: study.encoder.sha256,
    prompt_mode: 'class',
    aggregation: 'class',
    k: study.privacy.k,
    dp_epsilon: 4,
    dp_delta: 1e-5,
    dp_clip: 1,
    dp_sigma: 1.1,
    app_version: '0.1.0',
    created_at: '2025-01-01T00:00:00.000Z',
  };
}

/** A valid package for `study` from `siteId` (deterministic), with any field overridden. */
export function buildPackage(
  study: StudyManifest,
  siteId: string,
  o: PackageOverrides = {},
): Uint8Array {
  const n = o.n ?? 4;
  const dim = o.dim ?? study.encoder.dim;
  const conditioning = new Float32Array(n * 77 * dim);
  const seed = o.seed ?? 1;
  for (let i = 0; i < conditioning.length; i++) conditioning[i] = Math.sin(i * 0.37 + seed) * 0.5;
  const metadata: PackageMetadata = { ...validMetadata(study, siteId), ...o.metadata };
  return encodePackage({
    metadata,
    conditioning,
    n,
    dim,
    dtype: o.dtype ?? 'F16',
    labels: Int32Array.from(
      o.labels ?? Array.from({ length: n }, (_, i) => i % study.classes.length),
    ),
    counts: Int32Array.from(
      o.counts ?? Array.from({ length: n }, () => Math.max(study.privacy.k, 5)),
    ),
  });
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Sorted names in the packages dir + the packages table: what "the store is unchanged" compares. */
export async function packageStoreSnapshot(
  t: TestServer,
): Promise<{ files: string[]; rows: unknown[] }> {
  const files = (await fs.readdir(t.server.layout.packagesDir)).sort();
  const rows = await storeSql(t.server.store).all('SELECT * FROM packages ORDER BY sha256');
  return { files, rows };
}

/**
 * Publish a placeholder model (the given files + a fixed probe description) as the study's next
 * version through the real publisher: signed manifest, sha256 per file, version row.
 */
export async function publishTestModel(
  server: Pick<FglServer, 'store' | 'clock' | 'layout' | 'signingKey'>,
  study: StudyManifest,
  o: { roundId: string; srcDir: string; files: Record<string, Uint8Array | string> },
): Promise<void> {
  for (const [rel, data] of Object.entries(o.files)) {
    await fs.mkdir(path.dirname(path.join(o.srcDir, rel)), { recursive: true });
    await fs.writeFile(path.join(o.srcDir, rel), data);
  }
  await server.store.rounds.insert(o.roundId, study.id);
  await publishModel({
    store: server.store,
    clock: server.clock,
    layout: server.layout,
    signingKey: server.signingKey,
    study,
    roundId: o.roundId,
    sourceDir: o.srcDir,
    model: {
      kind: 'probe',
      preprocessing: { input: 'clip-image-embeds', normalize: true },
      backbone: { id: 'fgl-tiny/clip', revision: 'main' },
      training: {
        kind: 'probe',
        epochs: 1,
        batchSize: 8,
        learningRate: 0.01,
        validationSplit: 0.2,
        patience: 1,
        seed: 0,
        backend: 'cpu',
        samples: 4,
      },
      metrics: { valAccuracy: 0.5, valLoss: 1, valSamples: 1, epochs: 1 },
    },
  });
}
