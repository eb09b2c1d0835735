// The one SQLite migration runner (site ledger and server store): user_version counts the
// migrations applied, a failing one leaves the previous version, a newer schema is refused with
// the owner's own error, and both databases are migrated by it.
import Database from 'better-sqlite3';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Migration, migrateSqlite } from '../../../src/core/db/migrate-sqlite';
import { LEDGER_MIGRATIONS } from '../../../src/site/ledger/ledger-migrations';
import { Ledger } from '../../../src/site/ledger/ledger';
import { SERVER_MIGRATIONS } from '../../../src/server/store/server-migrations';
import { ServerStore } from '../../../src/server/store/server-store';
import { storeSql } from '../../helpers/store-sql';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});
async function tmpFile(name: string): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-migrate-'));
  dirs.push(d);
  return path.join(d, name);
}

const errors = {
  tooNew: (current: number, known: number) => new Error(`too new: ${current} > ${known}`),
  failed: (m: Migration, e: unknown) => new Error(`failed ${m.name}: ${(e as Error).message}`),
};
const m1: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE a (x INTEGER);' };
const m2: Migration = { version: 2, name: 'two', sql: 'CREATE TABLE b (y INTEGER);' };
const bad: Migration = { version: 2, name: 'bad', sql: 'CREATE TABLE c (z INTEGER); SELECT nope FROM nowhere;' };

describe('migrateSqlite', () => {
  it('applies each migration once and records the count in user_version', () => {
    const db = new Database(':memory:');
    expect(migrateSqlite(db, [m1], errors, 'test')).toBe(1);
    expect(migrateSqlite(db, [m1, m2], errors, 'test')).toBe(1);
    expect(migrateSqlite(db, [m1, m2], errors, 'test')).toBe(0);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
  });

  it('leaves the previous version when a migration fails, in the owner’s words', () => {
    const db = new Database(':memory:');
    migrateSqlite(db, [m1], errors, 'test');
    expect(() => migrateSqlite(db, [m1, bad], errors, 'test')).toThrow(/failed bad: no such table/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'c'").all()).toEqual([]);
  });

  it('refuses a newer schema before changing anything, and misnumbered migrations', () => {
    const db = new Database(':memory:');
    db.pragma('user_version = 5');
    expect(() => migrateSqlite(db, [m1, m2], errors, 'test')).toThrow('too new: 5 > 2');
    expect(db.prepare('SELECT name FROM sqlite_master').all()).toEqual([]);
    expect(() => migrateSqlite(db, [m2], errors, 'test')).toThrow(/test migration #1 is numbered 2/);
  });

  it('migrates both the site ledger and the server store', async () => {
    const ledger = Ledger.open(await tmpFile('ledger.db'));
    expect(ledger.schemaVersion()).toBe(LEDGER_MIGRATIONS.length);
    ledger.close();
    const store = await ServerStore.open(await tmpFile('server.db'));
    expect(await storeSql(store).pragma('user_version')).toBe(SERVER_MIGRATIONS.length);
    await store.close();
    SERVER_MIGRATIONS.forEach((m, i) => expect(m.version).toBe(i + 1));
  });
});
