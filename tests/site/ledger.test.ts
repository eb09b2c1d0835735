import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/site/ledger/ledger';
import { LedgerError } from '../../src/site/ledger/ledger-error';
import {
  LEDGER_MIGRATIONS,
  LEDGER_SCHEMA_VERSION,
  type Migration,
} from '../../src/site/ledger/ledger-migrations';

const sha = (c: string) => c.repeat(64).slice(0, 64);

let dir: string;
let file: string;
const open: Ledger[] = [];
function openLedger(opts?: Parameters<typeof Ledger.open>[1]): Ledger {
  const l = Ledger.open(file, opts);
  open.push(l);
  return l;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fgl-ledger-'));
  file = path.join(dir, 'nested', 'ledger.sqlite');
});
afterEach(() => {
  for (const l of open.splice(0)) l.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A dataset -> run -> package chain most tests need. */
function seed(l: Ledger) {
  const ds = l.datasets.upsert({ root: path.join(dir, 'images'), labelSource: 'folder' });
  const run = l.runs.create({ datasetId: ds.id, studyId: 'chest', options: { k: 5 } });
  const pkg = l.packages.insert({
    runId: run.id,
    sha256: sha('a'),
    bytes: 1234,
    path: path.join(dir, 'p.safetensors'),
    rows: 4,
    privacy: { k: 5, dp: { epsilon: 1 } },
    report: { blocked: 0 },
  });
  return { ds, run, pkg };
}

describe('opening and migrating', () => {
  it('creates the file, applies migrations once, and is idempotent on reopen', () => {
    const l = openLedger();
    expect(fs.existsSync(file)).toBe(true);
    expect(l.schemaVersion()).toBe(LEDGER_SCHEMA_VERSION);
    const tables = l.db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      )
      .all()
      .map((r) => r.name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'datasets',
        'scans',
        'images',
        'clip_embeddings',
        'runs',
        'packages',
        'uploads',
        'dp_budget',
        'enrollments',
        'models',
        'evaluations',
      ]),
    );
    seed(l);
    l.close();
    const again = openLedger();
    expect(again.schemaVersion()).toBe(LEDGER_SCHEMA_VERSION);
    expect(again.datasets.list()).toHaveLength(1); // data survived, nothing re-created
    expect(again.packages.get(sha('a'))!.rows).toBe(4);
  });

  it('applies a later migration exactly once, and rolls back a failing one', () => {
    openLedger().close();
    const extra: Migration = {
      version: LEDGER_SCHEMA_VERSION + 1,
      name: 'notes',
      sql: 'ALTER TABLE datasets ADD COLUMN notes TEXT;',
    };
    const l = openLedger({ migrations: [...LEDGER_MIGRATIONS, extra] });
    expect(l.schemaVersion()).toBe(LEDGER_SCHEMA_VERSION + 1);
    l.close();
    // Reopening with the same list must not try to add the column again.
    openLedger({ migrations: [...LEDGER_MIGRATIONS, extra] }).close();

    const broken: Migration = {
      version: LEDGER_SCHEMA_VERSION + 2,
      name: 'broken',
      sql: 'CREATE TABLE half_done (x INTEGER); SELECT no_such_function();',
    };
    let err: unknown;
    try {
      Ledger.open(file, { migrations: [...LEDGER_MIGRATIONS, extra, broken] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LedgerError);
    expect((err as LedgerError).code).toBe('migration_failed');
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(LEDGER_SCHEMA_VERSION + 1);
    expect(
      raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get(),
    ).toEqual({ n: 0 });
    raw.close();
  });

  it('refuses a ledger written by a newer app version, with a clear message', () => {
    openLedger().close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${LEDGER_SCHEMA_VERSION + 3}`);
    raw.close();
    let err: unknown;
    try {
      Ledger.open(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LedgerError);
    const le = err as LedgerError;
    expect(le.code).toBe('ledger_too_new');
    expect(le.message).toContain(`schema version ${LEDGER_SCHEMA_VERSION + 3}`);
    expect(le.message).toContain('newer FGL');
    expect(le.hint).toContain('Update FGL');
    // The file was left untouched.
    const check = new Database(file);
    expect(check.pragma('user_version', { simple: true })).toBe(LEDGER_SCHEMA_VERSION + 3);
    check.close();
  });

  it('rejects a file that is not SQLite', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(
      file,
      'this is not a database, just some text that is long enough to matter '.repeat(20),
    );
    expect(() => Ledger.open(file)).toThrow(LedgerError);
  });

  it('runs in WAL mode with foreign keys on and a busy timeout, and passes integrity_check', () => {
    const l = openLedger();
    expect(l.db.pragma('journal_mode', { simple: true })).toBe('wal');
    // FULL (2): an ε charge or released-row record is on disk before the package it covers can leave.
    expect(l.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(l.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(l.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    seed(l);
    expect(l.integrityCheck()).toEqual(['ok']);
    expect(l.db.pragma('foreign_key_check')).toEqual([]);
  });
});

describe('constraints', () => {
  it('enforces foreign keys', () => {
    const l = openLedger();
    expect(() => l.runs.create({ datasetId: 999, studyId: 's', options: {} })).toThrow(
      /FOREIGN KEY/,
    );
    expect(() =>
      l.uploads.insert({
        packageSha256: sha('f'),
        bytes: 1,
        serverUrl: 'https://x',
        studyId: 's',
        approvers: ['ann'],
      }),
    ).toThrow(/FOREIGN KEY/);
    const { ds } = seed(l);
    expect(() => l.db.prepare('DELETE FROM datasets WHERE id = ?').run(ds.id)).toThrow(
      /FOREIGN KEY/,
    ); // runs still point at it
  });

  it('keeps the upload audit log and the DP budget append-only', () => {
    const l = openLedger();
    const { ds, pkg } = seed(l);
    const up = l.uploads.insert({
      packageSha256: pkg.sha256,
      bytes: pkg.bytes,
      serverUrl: 'https://srv',
      studyId: 'chest',
      approvers: ['ann'],
    });
    expect(() => l.db.prepare('DELETE FROM uploads').run()).toThrow(/append-only/);
    expect(() => l.db.prepare("UPDATE uploads SET server_url = 'https://evil'").run()).toThrow(
      /append-only/,
    );
    expect(l.uploads.setOutcome(up.id, 'accepted', '{"ok":true}').status).toBe('accepted');
    expect(() =>
      l.uploads.insert({
        packageSha256: pkg.sha256,
        bytes: 1,
        serverUrl: 'u',
        studyId: 's',
        approvers: [],
      }),
    ).toThrow(LedgerError);
    expect(() =>
      l.db
        .prepare(
          "INSERT INTO uploads (package_sha256, bytes, server_url, study_id, approvers, created_at, status, updated_at) VALUES (?, 1, 'u', 's', '[]', 'x', 'pending', 'x')",
        )
        .run(pkg.sha256),
    ).toThrow(/CHECK/);
    l.dp.record({ datasetId: ds.id, studyId: 'chest', epsilon: 1, delta: 1e-5 });
    expect(() => l.db.prepare('DELETE FROM dp_budget').run()).toThrow(/cannot be deleted/);
    expect(() => l.db.prepare('UPDATE dp_budget SET epsilon = 0').run()).toThrow(
      /cannot be rewritten/,
    );
  });

  it('a throw inside a transaction leaves nothing behind', () => {
    const l = openLedger();
    const { ds } = seed(l);
    const before = l.runs.list().length;
    expect(() =>
      l.transaction(() => {
        const run = l.runs.create({ datasetId: ds.id, studyId: 'chest', options: {} });
        l.packages.insert({
          runId: run.id,
          sha256: sha('b'),
          bytes: 5,
          path: 'p',
          rows: 1,
          privacy: {},
          report: {},
        });
        l.dp.record({
          datasetId: ds.id,
          studyId: 'chest',
          epsilon: 2,
          delta: 1e-6,
          packageSha256: sha('b'),
        });
        l.embeddings.putMany(sha('m'), [
          { contentSha256: sha('c'), vector: new Float32Array([1, 2]) },
        ]);
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(l.runs.list()).toHaveLength(before);
    expect(l.packages.get(sha('b'))).toBeUndefined();
    expect(l.dp.spent(ds.id)).toBe(0);
    expect(l.embeddings.get(sha('c'), sha('m'))).toBeUndefined();
    // And the same work commits when nothing throws.
    l.transaction(() =>
      l.dp.record({ datasetId: ds.id, studyId: 'chest', epsilon: 2, delta: 1e-6 }),
    );
    expect(l.dp.spent(ds.id)).toBe(2);
  });

  it('a half-done write from a process that dies is not visible after reopen', () => {
    const l = openLedger();
    const { ds } = seed(l);
    // Begin a transaction and close the connection without committing: SQLite rolls it back.
    l.db.exec('BEGIN');
    l.db
      .prepare(
        "INSERT INTO dp_budget (dataset_id, study_id, epsilon, delta, created_at) VALUES (?, 's', 5, 0, 'x')",
      )
      .run(ds.id);
    l.close();
    const again = openLedger();
    expect(again.dp.spent(ds.id)).toBe(0);
    expect(again.integrityCheck()).toEqual(['ok']);
  });
});

describe('repos', () => {
  it('embedding cache round-trips Float32Arrays exactly, keyed by content and model', () => {
    const l = openLedger();
    const v = new Float32Array([0.1, -0, 1e-45, 3.4028234663852886e38, -Infinity, NaN, Math.PI]);
    const offset = new Float32Array(10);
    offset.set([9, 8, 7], 7);
    const sub = offset.subarray(7); // a view at a non-zero byteOffset
    expect(
      l.embeddings.putMany(sha('m'), [
        { contentSha256: sha('1'), vector: v },
        { contentSha256: sha('2'), vector: sub },
      ]),
    ).toBe(2);
    const back = l.embeddings.get(sha('1'), sha('m'))!;
    expect(back).toBeInstanceOf(Float32Array);
    expect(new Uint8Array(back.buffer)).toEqual(new Uint8Array(v.buffer)); // bit-exact, NaN and -0 included
    expect(Array.from(l.embeddings.get(sha('2'), sha('m'))!)).toEqual([9, 8, 7]);
    expect(l.embeddings.get(sha('1'), sha('n'))).toBeUndefined(); // other model: miss
    const many = l.embeddings.getMany([sha('1'), sha('2'), sha('3')], sha('m'));
    expect([...many.keys()]).toEqual([sha('1'), sha('2')]);
    l.embeddings.putMany(sha('m'), [{ contentSha256: sha('1'), vector: new Float32Array([5]) }]);
    expect(Array.from(l.embeddings.get(sha('1'), sha('m'))!)).toEqual([5]);
    expect(l.embeddings.count(sha('m'))).toBe(2);
    l.close();
    expect(Array.from(openLedger().embeddings.get(sha('2'), sha('m'))!)).toEqual([9, 8, 7]);
  });

  it('sums epsilon per dataset (and per study)', () => {
    const l = openLedger();
    const a = l.datasets.upsert({ root: path.join(dir, 'a'), labelSource: 'folder' });
    const b = l.datasets.upsert({
      root: path.join(dir, 'b'),
      labelSource: 'manifest',
      manifestPath: path.join(dir, 'b.csv'),
    });
    expect(l.dp.spent(a.id)).toBe(0);
    l.dp.record({ datasetId: a.id, studyId: 's1', epsilon: 0.5, delta: 1e-5 });
    l.dp.record({ datasetId: a.id, studyId: 's2', epsilon: 1.25, delta: 1e-5 });
    l.dp.record({ datasetId: b.id, studyId: 's1', epsilon: 4, delta: 1e-6 });
    expect(l.dp.spent(a.id)).toBe(1.75);
    expect(l.dp.spent(a.id, 's2')).toBe(1.25);
    expect(l.dp.spent(b.id)).toBe(4);
    expect(l.dp.spentTotals(a.id).delta).toBeCloseTo(2e-5, 12);
    expect(l.dp.list(a.id).map((e) => e.studyId)).toEqual(['s1', 's2']);
    expect(() => l.dp.record({ datasetId: a.id, studyId: 's', epsilon: -1, delta: 0 })).toThrow(
      LedgerError,
    );
    expect(() => l.dp.record({ datasetId: a.id, studyId: 's', epsilon: NaN, delta: 0 })).toThrow(
      LedgerError,
    );
  });

  it('datasets upsert by root; scans and images', () => {
    let t = 0;
    const l = openLedger({ now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, t++)) });
    const d1 = l.datasets.upsert({ root: path.join(dir, 'imgs'), labelSource: 'folder' });
    const d2 = l.datasets.upsert({
      root: path.join(dir, 'imgs') + path.sep,
      labelSource: 'manifest',
      name: 'renamed',
    });
    expect(d2.id).toBe(d1.id);
    expect(d2.name).toBe('renamed');
    expect(d2.createdAt).toBe(d1.createdAt);
    expect(d1.name).toBe('imgs');
    const scan = l.scans.start(d1.id);
    l.images.replaceForDataset(d1.id, scan.id, [
      {
        relPath: 'a/1.png',
        contentSha256: sha('1'),
        label: 'a',
        bytes: 10,
        width: 4,
        height: 4,
        status: 'usable',
        skipReason: null,
      },
      {
        relPath: 'b/2.png',
        contentSha256: sha('2'),
        label: 'b',
        bytes: 3,
        width: null,
        height: null,
        status: 'skipped',
        skipReason: 'corrupt',
      },
    ]);
    const done = l.scans.finish(scan.id, { usable: 1, skipped: { corrupt: 1 } })!;
    expect(done.finishedAt).toBe('2025-01-01T00:00:03.000Z'); // 4th clock read: upsert, upsert, start, finish
    expect(done.summary).toEqual({ usable: 1, skipped: { corrupt: 1 } });
    expect(l.scans.latest(d1.id)!.id).toBe(scan.id);
    expect(l.images.list(d1.id)).toHaveLength(2);
    expect(l.images.list(d1.id, { status: 'skipped' })[0]).toMatchObject({
      relPath: 'b/2.png',
      skipReason: 'corrupt',
      scanId: scan.id,
    });
    l.images.replaceForDataset(d1.id, null, []);
    expect(l.images.list(d1.id)).toEqual([]);
    expect(() =>
      l.datasets.upsert({ root: path.join(dir, 'x'), labelSource: 'csv' as 'folder' }),
    ).toThrow(/CHECK/);
  });

  it('runs: create, update progress, finish', () => {
    const l = openLedger();
    const { ds, run } = seed(l);
    expect(run).toMatchObject({
      status: 'running',
      studyId: 'chest',
      options: { k: 5 },
      progress: null,
      finishedAt: null,
    });
    const p = l.runs.update(run.id, { progress: { step: 'embed', current: 3, total: 10 } });
    expect(p.progress).toEqual({ step: 'embed', current: 3, total: 10 });
    expect(p.finishedAt).toBeNull();
    const f = l.runs.update(run.id, { status: 'failed', error: 'encoder missing' });
    expect(f).toMatchObject({
      status: 'failed',
      error: 'encoder missing',
      progress: { step: 'embed', current: 3, total: 10 },
    });
    expect(f.finishedAt).not.toBeNull();
    expect(() => l.runs.update(12345, { status: 'done' })).toThrow(LedgerError);
    l.runs.create({ datasetId: ds.id, studyId: 'chest', options: {} });
    expect(l.runs.failInterrupted()).toBe(1);
    expect(l.runs.list({ datasetId: ds.id }).every((r) => r.status === 'failed')).toBe(true);
  });

  it('packages, uploads (audit log search), enrollments, models, evaluations', () => {
    const l = openLedger();
    const { ds, run, pkg } = seed(l);
    expect(() => l.packages.insert({ ...pkg, runId: run.id })).toThrow(/UNIQUE/);
    expect(l.packages.list({ runId: run.id }).map((p) => p.sha256)).toEqual([sha('a')]);
    expect(l.packages.getById(pkg.id)!.privacy).toEqual({ k: 5, dp: { epsilon: 1 } });

    l.uploads.insert({
      packageSha256: pkg.sha256,
      bytes: pkg.bytes,
      serverUrl: 'https://hub.example.org',
      studyId: 'chest',
      approvers: ['Ann Lee', 'Privacy Officer'],
    });
    const u2 = l.uploads.insert({
      packageSha256: pkg.sha256,
      bytes: pkg.bytes,
      serverUrl: 'https://other.example',
      studyId: 'chest',
      approvers: ['Bob'],
      status: 'sent',
    });
    l.uploads.setOutcome(u2.id, 'rejected', 'k below study floor');
    expect(l.uploads.list().map((u) => u.serverUrl)).toEqual([
      'https://other.example',
      'https://hub.example.org',
    ]);
    expect(l.uploads.list({ search: 'officer' }).map((u) => u.approvers)).toEqual([
      ['Ann Lee', 'Privacy Officer'],
    ]);
    expect(l.uploads.list({ search: 'rejected' })).toHaveLength(1);
    expect(l.uploads.list({ search: '%' })).toHaveLength(0); // wildcards are literal
    expect(l.uploads.list({ search: sha('a').slice(0, 12) })).toHaveLength(2);
    expect(l.uploads.list({ limit: 1, offset: 1 })[0]!.serverUrl).toBe('https://hub.example.org');

    const key = new Uint8Array([0, 1, 2, 255]);
    const e = l.enrollments.upsert({
      serverUrl: 'https://hub.example.org',
      studyId: 'chest',
      siteId: 'site-a',
      apiKey: key,
      serverPublicKey: 'pk',
      serverKeyFingerprint: 'fp',
    });
    expect(l.enrollments.get('https://hub.example.org', 'chest')!.apiKey).toEqual(key);
    const e2 = l.enrollments.upsert({
      serverUrl: 'https://hub.example.org',
      studyId: 'chest',
      siteId: 'site-a',
      apiKey: key,
      serverPublicKey: 'pk2',
      serverKeyFingerprint: 'fp2',
    });
    expect(e2.id).toBe(e.id);
    expect(l.enrollments.list()).toHaveLength(1);
    expect(l.enrollments.remove(e.id)).toBe(true);
    expect(l.enrollments.get('https://hub.example.org', 'chest')).toBeUndefined();

    const m1 = l.models.insert({
      studyId: 'chest',
      version: 1,
      dir: '/m/1',
      manifestSha256: sha('d'),
    });
    const m2 = l.models.insert({
      studyId: 'chest',
      version: 2,
      dir: '/m/2',
      manifestSha256: sha('e'),
    });
    expect(() =>
      l.models.insert({ studyId: 'chest', version: 2, dir: '/x', manifestSha256: sha('e') }),
    ).toThrow(/UNIQUE/);
    l.models.setVerified(m1.id, 'verified');
    l.models.setVerified(m2.id, 'failed', 'bad signature');
    expect(l.models.latest('chest')!.version).toBe(2);
    expect(l.models.latest('chest', { verifiedOnly: true })!.version).toBe(1);
    expect(l.models.byVersion('chest', 2)!.verifyError).toBe('bad signature');
    expect(l.models.list('chest').map((m) => m.version)).toEqual([2, 1]);

    const ev = l.evaluations.insert({
      modelId: m1.id,
      datasetId: ds.id,
      metrics: { accuracy: 0.75 },
      reportPath: '/r.html',
    });
    expect(l.evaluations.get(ev.id)!.metrics).toEqual({ accuracy: 0.75 });
    expect(l.evaluations.list({ modelId: m1.id })).toHaveLength(1);
    expect(l.evaluations.list({ modelId: m2.id })).toHaveLength(0);
    expect(l.evaluations.list({ datasetId: ds.id })).toHaveLength(1);
    expect(() => l.evaluations.insert({ modelId: 999, datasetId: ds.id, metrics: {} })).toThrow(
      /FOREIGN KEY/,
    );
    expect(l.integrityCheck()).toEqual(['ok']);
  });
});

describe('site secrets', () => {
  it('makes the patient key once (32 random bytes), keeps it across opens, and never changes it', () => {
    const l = openLedger();
    const key = l.secrets.get('patient-key');
    expect(key.length).toBe(32);
    expect(l.secrets.get('patient-key').equals(key)).toBe(true);
    l.close();
    open.length = 0;
    const again = openLedger();
    expect(again.secrets.get('patient-key').equals(key)).toBe(true);
    expect(again.secrets.get('other').equals(key)).toBe(false);
    expect(() => again.db.prepare("UPDATE site_secrets SET secret = zeroblob(32) WHERE name = 'patient-key'").run()).toThrow(/never changed/);
  });
});
