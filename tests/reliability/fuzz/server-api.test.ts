import fc from 'fast-check';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/shared/api-error';
import type { StudyManifest } from '../../../src/shared/study';
import {
  buildPackage,
  createStudy,
  enrollSite,
  publishTestModel,
  sha256Hex,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';
import {
  bytesSummary,
  confusableOf,
  deepJsonText,
  describeThrown,
  FUZZ_SEED,
  fuzzParams,
  hostileJson,
  hostileString,
  labelled,
} from './fuzz-support';
import { storeSql } from '../../helpers/store-sql';

/*
 * The real server over real HTTP on 127.0.0.1, every route from its own OpenAPI document, hit
 * with random methods, paths, ids, queries, headers and bodies — with and without valid keys.
 * Nothing may answer 5xx, every error is `{error:{code,message,hint?}}`, no secret ever appears
 * in a response or a log line, and the store (files, sizes, contents, every table) is exactly as
 * it was before. Authorized requests that would legitimately change the store (an admin opening
 * a round on a real study) are never generated; everything else is fair game.
 */

const PACKAGE_LIMIT = 64 * 1024;
const JSON_LIMIT = 16 * 1024;

let t: TestServer;
let study: StudyManifest;
let other: StudyManifest;
let siteA: { siteId: string; apiKey: string };
let siteB: { siteId: string; apiKey: string };
let storedPackage: Uint8Array;
let modelSrc: string;
let port: number;
let agent: http.Agent;
let routes: { method: string; path: string }[];
let before: Snapshot;
const secrets: string[] = [];

type Snapshot = { files: string[]; tables: Record<string, { rows: number; sha256: string }> };

/** Every file under the data dir with size + sha256 (db files, tmp/ excluded), and each table's rows. */
async function snapshot(): Promise<Snapshot> {
  const root = t.server.layout.root;
  const files: string[] = [];
  for (const e of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    const rel = path.relative(root, abs).split(path.sep).join('/');
    // The db is compared table by table below (WAL/checkpoints move bytes without changing rows).
    if (rel.startsWith('tmp/') || /^server\.db(-wal|-shm|-journal)?$/.test(rel)) continue;
    const bytes = await fs.readFile(abs);
    files.push(`${rel} ${bytes.length} ${sha256Hex(bytes)}`);
  }
  files.sort();
  const tables: Snapshot['tables'] = {};
  const db = storeSql(t.server.store);
  const names = await db.all<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  for (const { name } of names) {
    const rows = await db.all(`SELECT * FROM "${name}" ORDER BY rowid`);
    tables[name] = {
      rows: rows.length,
      sha256: createHash('sha256').update(JSON.stringify(rows)).digest('hex'),
    };
  }
  return { files, tables };
}

type Req = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Send the body chunked (no content-length). */
  chunked?: boolean;
  what: string;
};

type Res = { status: number; headers: http.IncomingHttpHeaders; body: Buffer } | { reset: string };

function send(r: Req): Promise<Res> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: Res) => {
      if (!settled) {
        settled = true;
        resolve(v);
      }
    };
    const headers = { ...r.headers };
    if (r.body && !r.chunked) headers['content-length'] = String(r.body.length);
    const req = http.request(
      { host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (e) => done({ reset: e.message }));
      },
    );
    req.on('error', (e) => done({ reset: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    if (r.body) {
      if (r.chunked) {
        for (let i = 0; i < r.body.length; i += 16 * 1024)
          req.write(r.body.subarray(i, i + 16 * 1024));
      } else req.write(r.body);
    }
    req.end();
  });
}

/**
 * encodeURIComponent, except that a lone surrogate (which it refuses) becomes its WTF-8 bytes:
 * exactly the kind of malformed UTF-8 a hostile client sends.
 */
function pct(s: string): string {
  return [...s]
    .map((c) => {
      const cu = c.charCodeAt(0);
      if (c.length === 1 && cu >= 0xd800 && cu <= 0xdfff)
        return [0xed, 0xa0 | ((cu >> 6) & 0x1f & 0xbf), 0x80 | (cu & 0x3f)]
          .map((b) => `%${b.toString(16).toUpperCase()}`)
          .join('');
      return encodeURIComponent(c);
    })
    .join('');
}

/** A header value Node will put on the wire (latin1 without control characters). */
function headerSafe(s: string): string {
  return [...s]
    .map((c) => (/[\t\x20-\x7e\x80-\xff]/.test(c) ? c : pct(c)))
    .join('')
    .slice(0, 8000);
}

/** A path segment: percent-encoded, or raw where Node allows it (so `..`, `\`, `%2e` reach the router as written). */
const segment = (raw: string, encodeIt: boolean) =>
  encodeIt ||
  !/^[\x21-\xff]*$/.test(raw) ||
  raw.includes('/') ||
  raw.includes('?') ||
  raw.includes('#')
    ? pct(raw)
    : raw;

/** A rest-of-path value as written, except what Node cannot put on the wire (non-latin1, controls, `?`, `#`). */
const wirePath = (raw: string) =>
  [...raw].map((c) => (/[\x21-\xff]/.test(c) && c !== '?' && c !== '#' ? c : pct(c))).join('');

const TRAVERSALS = [
  '../../keys/admin.key',
  '../../../keys/admin.key',
  '..%2f..%2fkeys%2fadmin.key',
  '%2e%2e/%2e%2e/keys/admin.key',
  '%2e%2e%2f%2e%2e%2fkeys%2fadmin.key',
  '%252e%252e%252fkeys%252fadmin.key',
  '..\\..\\keys\\admin.key',
  '..%5c..%5ckeys%5cadmin.key',
  'shards/../model.json',
  'shards/../../1/manifest.json',
  './model.json',
  'model.json%00',
  'model.json%00.png',
  '%00',
  '....//....//keys/admin.key',
  '/etc/passwd',
  '%2fetc%2fpasswd',
  '//etc/passwd',
  'model.json/',
  'model.json?x=1',
  'model.json#frag',
  'm%6fdel.json',
  'MODEL.JSON',
  'model.json ',
  'shards//group1-shard1of1.bin',
  'manifest.sig',
  'manifest.json',
  '../manifest.json',
  '%c0%ae%c0%ae/keys/admin.key',
  '..%c0%afkeys%c0%afadmin.key',
  '\u2025/keys/admin.key',
  '%e2%80%a5/keys/admin.key',
];

const AUTH = ['none', 'admin', 'siteA', 'siteB', 'garbage'] as const;
type Auth = (typeof AUTH)[number];

function authHeader(a: Auth, garbage: string): Record<string, string> {
  switch (a) {
    case 'none':
      return {};
    case 'admin':
      return { authorization: `Bearer ${t.adminKey}` };
    case 'siteA':
      return { authorization: `Bearer ${siteA.apiKey}` };
    case 'siteB':
      return { authorization: `Bearer ${siteB.apiKey}` };
    case 'garbage':
      return { authorization: headerSafe(garbage) };
  }
}

const garbageAuth = fc.oneof(
  fc.constantFrom(
    'Bearer',
    'Bearer ',
    'Bearer  ',
    'bearer x',
    'Basic YWRtaW46YWRtaW4=',
    'Bearer a b',
    'Bearer \u00ff\u00fe',
    'Token abc',
    'Bearer ' + 'k'.repeat(7000),
    'Bearer fgl_site_' + '0'.repeat(40),
  ),
  hostileString.map((s) => `Bearer ${s}`),
  hostileString,
);

/** Ids that pass each parameter's schema but name nothing (built once: regex arbitraries are costly). */
const wellFormed: Record<string, fc.Arbitrary<string>> = {
  studyId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/),
  siteId: fc.stringMatching(/^site-[a-z0-9]{6,12}$/),
  sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
  roundId: fc.stringMatching(/^round-[a-z0-9-]{4,12}$/),
  version: fc.oneof(
    fc.nat().map(String),
    fc.constantFrom(
      '0',
      '-1',
      '1.5',
      '1e3',
      '0x1',
      ' 1',
      '01',
      '99999999999999999999',
      'NaN',
      'Infinity',
    ),
  ),
  path: fc.constantFrom(...TRAVERSALS),
};

/** Ids for a path parameter: the real one, a look-alike, a well-formed stranger, or junk. */
function paramValue(
  name: string,
  method: string,
  a: Auth,
  routePath: string,
): fc.Arbitrary<{ raw: string; encode: boolean }> {
  const real: Record<string, string[]> = {
    studyId: [study.id, other.id],
    siteId: [siteA.siteId, siteB.siteId],
    sha256: [sha256Hex(storedPackage)],
    roundId: ['round-fuzz-0001'],
    version: ['1'],
    path: ['model.json', 'shards/group1-shard1of1.bin'],
  };
  // An admin must not get a real id on a route that would change the store when the body is valid.
  const mutating = method !== 'GET' && method !== 'HEAD';
  const allowReal = !(
    a === 'admin' &&
    mutating &&
    routePath !== '/v1/studies/{studyId}/packages/{sha256}'
  );
  const options: fc.Arbitrary<{ raw: string; encode: boolean }>[] = [
    wellFormed[name] ?? hostileString,
    hostileString,
  ].map((arb) => fc.tuple(arb, fc.boolean()).map(([raw, encode]) => ({ raw, encode })));
  if (name === 'path')
    options.push(fc.constantFrom(...TRAVERSALS).map((raw) => ({ raw, encode: false })));
  if (allowReal && real[name]) {
    options.push(fc.constantFrom(...real[name]!).map((raw) => ({ raw, encode: name !== 'path' })));
    options.push(fc.constantFrom(...real[name]!).map((raw) => ({ raw, encode: name !== 'path' })));
    options.push(
      fc
        .constantFrom(...real[name]!)
        .chain(confusableOf)
        .map((raw) => ({ raw, encode: true })),
    );
  }
  return fc.oneof(...options);
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data; boundary=xyz',
  'application/x-www-form-urlencoded',
  'application/xml',
  'application/json, text/plain',
  '*/*',
  ';;;',
  '',
];

type BodyKind = { kind: string; bytes?: Uint8Array; chunked?: boolean; contentType?: string };

function bodyArb(
  routePath: string,
  method: string,
  a: Auth,
  routeStudy: string | undefined,
  urlSha: string | undefined,
): fc.Arbitrary<BodyKind> {
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v) ?? 'null');
  const choices: fc.Arbitrary<BodyKind>[] = [
    fc.constant({ kind: 'none' }),
    hostileJson.map((v) => ({ kind: 'json', bytes: json(v), contentType: 'application/json' })),
    fc
      .constantFrom(
        '{',
        '{"a":',
        '[1,2',
        'nul',
        '{"__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"token":"' + 'a'.repeat(32) + '","__proto__":{"x":1}}',
        '\ufeff{}',
        '{"a":1}{"b":2}',
        "{'a':1}",
        '{"a":NaN}',
        '{"a":1e999}',
        '',
        ' ',
        '\u0000',
      )
      .map((s) => ({
        kind: 'bad_json',
        bytes: new TextEncoder().encode(s),
        contentType: 'application/json',
      })),
    fc.integer({ min: 1000, max: 3000 }).map((d) => ({
      kind: 'deep_json',
      bytes: new TextEncoder().encode(deepJsonText(d, 'array')),
      contentType: 'application/json',
    })),
    fc
      .tuple(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...CONTENT_TYPES))
      .map(([bytes, contentType]) => ({ kind: 'bytes', bytes, contentType })),
    fc.constantFrom(...CONTENT_TYPES).map((contentType) => ({
      kind: 'over_json_limit',
      bytes: json({ siteName: 'x'.repeat(JSON_LIMIT + 10) }),
      contentType,
    })),
    fc.boolean().map((chunked) => ({
      kind: 'over_package_limit',
      bytes: new Uint8Array(PACKAGE_LIMIT + 1),
      chunked,
      contentType: 'application/octet-stream',
    })),
  ];
  if (routePath === '/v1/studies/{studyId}/packages/{sha256}' && method === 'PUT') {
    // Packages that reach decoding and the policy check; none of them may be stored.
    const hostilePkg = fc.constantFrom(
      ...hostilePackages.get(routeStudy === other.id ? other.id : study.id)!,
    );
    choices.push(
      ...[hostilePkg, hostilePkg, hostilePkg].map((arb) =>
        fc
          .tuple(arb, fc.boolean())
          .map(([p, chunked]) => ({ ...p, chunked, contentType: 'application/octet-stream' })),
      ),
    );
  }
  void a;
  void urlSha;
  return fc.oneof(...choices);
}

const queryArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(
            hostileString,
            fc.constantFrom('__proto__', 'constructor', '__proto__[polluted]', 'a[b][c]', 'a[]'),
          ),
          hostileString,
        ),
        { maxLength: 4 },
      )
      .map((kv) => '?' + kv.map(([k, v]) => `${pct(k)}=${pct(v)}`.slice(0, 4000)).join('&')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '?',
      '??',
      '?&&&',
      '?a=1&a=2',
      '?%',
      '?%zz',
      '?a=%00',
      '#frag',
      '?' + 'a=b&'.repeat(2000),
    ),
  },
);

const extraHeaders = fc.array(
  fc.oneof(
    fc.constantFrom<[string, string]>(
      ['range', 'bytes=0-0'],
      ['range', 'bytes=-1'],
      ['range', 'bytes=5-1'],
      ['range', 'bytes=0-99999999999999999999999'],
      ['range', 'bytes=99999999999999-'],
      ['range', 'bytes=0-1,2-3'],
      ['range', 'bytes=--1'],
      ['range', 'items=0-1'],
      ['if-none-match', '*'],
      ['if-none-match', '"' + 'a'.repeat(64) + '"'],
      ['if-range', '"x"'],
      ['content-encoding', 'gzip'],
      ['content-encoding', 'br'],
      ['accept-encoding', 'gzip, deflate, br'],
      ['accept', 'text/html'],
      ['x-forwarded-for', '10.0.0.1'],
      ['x-forwarded-host', 'evil.example'],
      ['x-request-id', '../../etc/passwd'],
      ['host', 'evil.example'],
      ['origin', 'https://evil.example'],
      ['expect', '100-continue'],
      ['expect', 'something-else'],
    ),
    fc
      .tuple(
        fc.constantFrom('range', 'if-none-match', 'if-range', 'x-fgl-anything', 'cookie'),
        hostileString,
      )
      .map(([k, v]) => [k, headerSafe(v)] as [string, string]),
  ),
  { maxLength: 3 },
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'FOO'];

function requestArb(): fc.Arbitrary<Req> {
  const fromRoute = fc
    .tuple(fc.constantFrom(...routes), fc.constantFrom(...AUTH), garbageAuth)
    .chain(([route, a, garbage]) => {
      const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const method = fc.oneof(
        { weight: 6, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      );
      return method.chain((m) =>
        fc
          .tuple(
            fc.tuple(...names.map((n) => paramValue(n, m, a, route.path))),
            queryArb,
            extraHeaders,
          )
          .chain(([values, query, extra]) => {
            const studyIdx = names.indexOf('studyId');
            const routeStudy = studyIdx >= 0 ? values[studyIdx]!.raw : undefined;
            const shaIdx = names.indexOf('sha256');
            return bodyArb(
              route.path,
              m,
              a,
              routeStudy,
              shaIdx >= 0 ? values[shaIdx]!.raw : undefined,
            ).chain((body) =>
              fc.boolean().map((shaOfBody): Req => {
                let p = route.path;
                names.forEach((n, i) => {
                  let v = values[i]!;
                  // Half of the uploads name their own sha256, so they get past the hash check.
                  if (n === 'sha256' && shaOfBody && body.bytes && m === 'PUT')
                    v = { raw: sha256Hex(body.bytes), encode: false };
                  p = p.replace(
                    `{${n}}`,
                    n === 'path' ? wirePath(v.raw) : segment(v.raw, v.encode),
                  );
                });
                const headers: Record<string, string> = { ...authHeader(a, garbage) };
                for (const [k, v] of extra) headers[k] = v;
                if (body.contentType !== undefined && body.contentType !== '')
                  headers['content-type'] = body.contentType;
                return {
                  method: m,
                  path: p + query,
                  headers,
                  ...(body.bytes ? { body: body.bytes } : {}),
                  ...(body.chunked ? { chunked: true } : {}),
                  what: `${route.method} ${route.path} as ${a} [${body.kind}]`,
                };
              }),
            );
          }),
      );
    });
  const randomPath = fc
    .tuple(
      fc.array(
        fc.tuple(
          fc.oneof(
            hostileString,
            fc.constantFrom(
              'v1',
              'studies',
              'models',
              'files',
              'rounds',
              'sites',
              'keys',
              'admin.key',
              '..',
              '.',
              '%2e%2e',
            ),
          ),
          fc.boolean(),
        ),
        { maxLength: 7 },
      ),
      fc.constantFrom(...METHODS),
      fc.constantFrom(...AUTH),
      garbageAuth,
      queryArb,
    )
    .map(([segs, m, a, garbage, q]): Req => ({
      method: m,
      path: '/' + segs.map(([s, e]) => segment(s, e)).join('/') + q,
      headers: authHeader(a, garbage),
      what: `${m} (random path) as ${a}`,
    }));
  return fc
    .oneof(
      { weight: 8, arbitrary: fromRoute as fc.Arbitrary<Req> },
      { weight: 2, arbitrary: randomPath },
    )
    .map((r) =>
      labelled(
        r,
        (v) =>
          `${v.what}: ${v.method} ${v.path.slice(0, 300)} headers=${JSON.stringify(v.headers).slice(0, 300)} body=${v.body ? bytesSummary(v.body) : 'none'} (FGL_FUZZ_SEED=${FUZZ_SEED})`,
      ),
    );
}

/** Packages (built once per study) that must each be refused at decoding or by the study's policy. */
const hostilePackages = new Map<string, BodyKind[]>();

function buildHostilePackages(forStudy: StudyManifest): BodyKind[] {
  const valid = buildPackage(forStudy, siteA.siteId);
  const deepHeader = (depth: number) => {
    const text = `{"conditioning":{"dtype":${deepJsonText(depth, 'array')},"shape":[1],"data_offsets":[0,4]}}`;
    const h = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + h.length + 4);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    return out;
  };
  const otherId = forStudy.id === study.id ? other.id : study.id;
  return [
    ...[0, 7, 8, 64, Math.floor(valid.length / 2), valid.length - 1].map((n) => ({
      kind: 'pkg_truncated',
      bytes: valid.subarray(0, n),
    })),
    { kind: 'pkg_other_site', bytes: buildPackage(forStudy, siteB.siteId) },
    { kind: 'pkg_low_k', bytes: buildPackage(forStudy, siteA.siteId, { counts: [1, 1, 1, 1] }) },
    {
      kind: 'pkg_bad_label',
      bytes: buildPackage(forStudy, siteA.siteId, { labels: [0, 1, 2, 99] }),
    },
    {
      kind: 'pkg_wrong_dim',
      bytes: buildPackage(forStudy, siteA.siteId, { dim: forStudy.encoder.dim + 1 }),
    },
    {
      kind: 'pkg_wrong_encoder',
      bytes: buildPackage(forStudy, siteA.siteId, { metadata: { encoder_sha256: '0'.repeat(64) } }),
    },
    {
      kind: 'pkg_wrong_study',
      bytes: buildPackage(forStudy, siteA.siteId, { metadata: { study_id: otherId } }),
    },
    {
      kind: 'pkg_site_nul',
      bytes: buildPackage(forStudy, siteA.siteId, {
        metadata: { site_id: `${siteA.siteId}\u0000` },
      }),
    },
    { kind: 'pkg_stored_again', bytes: storedPackage },
    { kind: 'pkg_deep_header', bytes: deepHeader(8_000) },
    { kind: 'pkg_deep_header', bytes: deepHeader(20_000) },
  ];
}

const stats = {
  requests: 0,
  failures: 0,
  resets: 0,
  byStatus: new Map<number, number>(),
  rawRequests: 0,
};

function assertNoSecret(text: string, where: string): void {
  for (const s of secrets)
    if (s.length >= 16 && text.includes(s))
      throw new Error(`${where} contains a secret (${s.slice(0, 6)}…)`);
  if (text.includes('PRIVATE KEY')) throw new Error(`${where} contains a private key`);
}

function checkResponse(r: Req, res: Res): void {
  if ('reset' in res) {
    // The server may close instead of draining an over-limit upload; nothing else may drop.
    stats.resets++;
    const headBytes =
      r.path.length +
      Object.entries(r.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    // Over Node's 16 KiB header limit the server answers 431 and closes; a HEAD client may see only the close.
    if (!(r.body && r.body.length > JSON_LIMIT) && headBytes < 16 * 1024)
      throw new Error(`connection failed without a response: ${res.reset}`);
    return;
  }
  stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
  const text = res.body.toString('utf8');
  if (res.status >= 500) throw new Error(`answered ${res.status}: ${text.slice(0, 500)}`);
  assertNoSecret(text, 'response body');
  assertNoSecret(JSON.stringify(res.headers), 'response headers');
  if (res.status >= 400 && r.method !== 'HEAD') {
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`error body is not JSON (${res.status}): ${text.slice(0, 200)}`);
    }
    const ok = ApiError.safeParse(parsed);
    if (!ok.success)
      throw new Error(
        `error body is not {error:{code,message,hint?}} (${res.status}): ${text.slice(0, 300)}`,
      );
  }
  // Only reads and the idempotent re-upload of stored bytes may succeed.
  if (res.status < 300 && r.method !== 'GET' && r.method !== 'HEAD') {
    const reupload = r.method === 'PUT' && res.status === 200 && /"created":false/.test(text);
    if (!reupload)
      throw new Error(
        `a ${r.method} succeeded (${res.status}); the generator must not make valid writes: ${text.slice(0, 300)}`,
      );
  }
}

/** Raw bytes on a socket: what no HTTP client library would send. */
function sendRaw(bytes: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.setTimeout(5000, () => sock.destroy());
    sock.end(bytes);
  });
}

const RAW_REQUESTS: string[] = [
  'GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/health\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/studies/../../keys/admin.key HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/studies/%2e%2e/%2e%2e/keys/admin.key HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://evil.example/v1/health HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /v1/health HTTP/1.0\r\n\r\n',
  'GARBAGE\r\n\r\n',
  '\r\n\r\n',
  'GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: ' + 'a'.repeat(20_000) + '\r\n\r\n',
  'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}',
  'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
  'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"token":',
  'GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
  'GET /v1/health HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n',
  'GET /v1/health HTTP/1.1\nHost: x\n\n',
  'GET /v1/studies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u00ff\u00fe\r\n\r\n',
  'PUT /v1/studies/x/packages/y HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 99999999999999999999\r\n\r\n',
];

describe('fuzz: every route of the real server over HTTP', () => {
  beforeAll(async () => {
    t = await startTestServer({
      limits: { maxPackageBytes: PACKAGE_LIMIT, maxJsonBytes: JSON_LIMIT },
    });
    expect(t.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    port = Number(new URL(t.url).port);
    agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    study = await createStudy(t, { name: 'Fuzz study' });
    other = await createStudy(t, { name: 'Other study' });
    siteA = await enrollSite(t, study.id, 'Fuzz Site A');
    siteB = await enrollSite(t, other.id, 'Fuzz Site B');
    secrets.push(t.adminKey, siteA.apiKey, siteB.apiKey);
    storedPackage = buildPackage(study, siteA.siteId);
    const put = await t.api('PUT', `/v1/studies/${study.id}/packages/${sha256Hex(storedPackage)}`, {
      key: siteA.apiKey,
      body: storedPackage,
    });
    expect(put.status).toBe(201);
    // A published model, so the manifest, signature and file routes have something real behind them.
    modelSrc = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-fuzz-model-'));
    await publishTestModel(t.server, study, {
      roundId: 'round-fuzz-0001',
      srcDir: modelSrc,
      files: {
        'model.json': JSON.stringify({ format: 'layers-model', weightsManifest: [] }),
        'shards/group1-shard1of1.bin': new Uint8Array(4096).map((_, i) => i % 251),
      },
    });
    const file = await t.api('GET', `/v1/studies/${study.id}/models/1/files/model.json`, {
      key: siteA.apiKey,
    });
    expect(file.status).toBe(200);

    const doc = (await t.api('GET', '/v1/openapi.json')).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    routes = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: p })),
    );
    for (const st of [study, other]) hostilePackages.set(st.id, buildHostilePackages(st));
    before = await snapshot();
  });

  afterAll(async () => {
    agent?.destroy();
    await t?.close();
    if (modelSrc) await fs.rm(modelSrc, { recursive: true, force: true });
    recordFigures('fuzz', 'server API (HTTP)', {
      inputs: stats.requests + stats.rawRequests,
      failures: stats.failures,
      seed: FUZZ_SEED,
      routes: routes?.length ?? 0,
      rawSocketRequests: stats.rawRequests,
      connectionsClosedOnOversizedBody: stats.resets,
      statuses: [...stats.byStatus]
        .sort(([a], [b]) => a - b)
        .map(([k, n]) => `${k}×${n}`)
        .join(' '),
    });
  });

  it('enumerates every route from /v1/openapi.json', () => {
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(routes).toContainEqual({
      method: 'GET',
      path: '/v1/studies/{studyId}/models/{version}/files/{path}',
    });
    expect(routes).toContainEqual({
      method: 'PUT',
      path: '/v1/studies/{studyId}/packages/{sha256}',
    });
  });

  it('answers the requests this fuzzer first broke the server with (regressions; run first, before the fuzz drains the rate-limit buckets)', async () => {
    const deep = hostilePackages.get(study.id)!.find((p) => p.kind === 'pkg_deep_header')!.bytes!;
    const cases: { r: Req; status: number; code: string }[] = [
      {
        // A safetensors header nesting 8 000 arrays deep once escaped as a RangeError → 500.
        r: {
          method: 'PUT',
          path: `/v1/studies/${study.id}/packages/${sha256Hex(deep)}`,
          headers: {
            authorization: `Bearer ${siteA.apiKey}`,
            'content-type': 'application/octet-stream',
          },
          body: deep,
          what: 'deep safetensors header',
        },
        status: 400,
        code: 'package_header_not_json|package_unknown_dtype',
      },
      {
        // Invalid UTF-8 in the URL: fastify's router answered in its own body format.
        r: {
          method: 'GET',
          path: '/v1/studies/%ED%A0%80',
          headers: {},
          what: 'lone surrogate in URL',
        },
        status: 400,
        code: 'bad_url',
      },
      {
        // Node answered an unknown Expect with a bare 417.
        r: {
          method: 'GET',
          path: '/v1/health',
          headers: { expect: 'something-else' },
          what: 'unknown Expect',
        },
        status: 417,
        code: 'expectation_failed',
      },
      {
        // Over Node's header limit: fastify's default client-error body.
        r: {
          method: 'GET',
          path: '/v1/studies/' + 'a'.repeat(20_000),
          headers: {},
          what: 'oversized URL',
        },
        status: 431,
        code: 'headers_too_large',
      },
    ];
    const problems: string[] = [];
    for (const c of cases) {
      stats.requests++;
      const res = await send(c.r);
      if ('reset' in res) {
        problems.push(`${c.r.what}: connection dropped (${res.reset})`);
        continue;
      }
      const body = ApiError.safeParse(JSON.parse(res.body.toString('utf8') || 'null'));
      if (
        res.status !== c.status ||
        !body.success ||
        !new RegExp(`^(${c.code})$`).test(body.data.error.code)
      )
        problems.push(`${c.r.what}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
    }
    stats.failures += problems.length;
    expect(problems).toEqual([]);
  });

  it('answers every hostile request with a 4xx envelope (never 5xx), leaking no secret', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb(), async (r) => {
        stats.requests++;
        try {
          checkResponse(r, await send(r));
        } catch (e) {
          stats.failures++;
          throw new Error(`${r.what}: ${describeThrown(e)}`);
        }
      }),
      fuzzParams(3000),
    );
    // The run got past routing and auth to validation, lookups and range handling.
    for (const s of [400, 401, 403, 404])
      expect(stats.byStatus.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
  }, 180_000);

  it('survives malformed HTTP on a raw socket', async () => {
    const problems: string[] = [];
    for (const raw of RAW_REQUESTS) {
      stats.rawRequests++;
      const reply = await sendRaw(Buffer.from(raw, 'latin1'));
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 0);
      const where = `raw request ${JSON.stringify(raw.slice(0, 100))} → ${JSON.stringify(reply.slice(0, 200))}`;
      if (status >= 500) problems.push(`${where}: answered ${status}`);
      if (secrets.some((k) => reply.includes(k))) problems.push(`${where}: leaks a key`);
      if (status >= 400) {
        const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(body);
        } catch {
          // reported below
        }
        if (!ApiError.safeParse(parsed).success)
          problems.push(`${where}: error body is not {error:{code,message,hint?}}`);
      }
    }
    stats.failures += problems.length;
    expect(problems).toEqual([]);
  });

  it('leaves the store exactly as it was, stays healthy, and logs no key', async () => {
    const after = await snapshot();
    expect(after.files).toEqual(before.files);
    expect(after.tables).toEqual(before.tables);
    const health = await t.api('GET', '/v1/health');
    expect(health.status).toBe(200);
    for (const line of t.logs) assertNoSecret(line, 'server log');
    // No temp upload survived a rejection.
    const leftovers = (await fs.readdir(t.server.layout.packagesDir)).filter((n) =>
      n.startsWith('.'),
    );
    expect(leftovers).toEqual([]);
  });
});
