// The server store's numbered migrations on a real PostgreSQL 15 (a throwaway cluster started
// here) give the same schema as on SQLite, run once even when replicas start together, and
// refuse a newer schema. (The repositories on both engines: describe.each(STORE_ENGINES) in the
// server tests; docs/scale.md.)
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_MIGRATIONS as MIGRATIONS } from '../../../src/server/store/server-migrations';
import { migratePostgres } from '../../../src/server/store/postgres-migrations';
import { ServerStore } from '../../../src/server/store/server-store';
import { startTestPostgres, type TestPostgres } from '../../helpers/postgres-server';
import { storeSql } from '../../helpers/store-sql';

let server: TestPostgres;
let sqlite: ServerStore;
let dir: string;
let dbCounter = 0;

/** A fresh empty database on the test cluster, and a connected client to it. */
async function freshDb(): Promise<{ url: string; client: pg.Client }> {
  const name = `fgl_test_${++dbCounter}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { url, client };
}

beforeAll(async () => {
  server = await startTestPostgres();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-pg-sqlite-'));
  sqlite = await ServerStore.open(path.join(dir, 'server.db'));
}, 90_000);

afterAll(async () => {
  sqlite?.close();
  await server?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('server store migrations on PostgreSQL 15', () => {
  it('give the same tables, columns and primary keys as on SQLite', async () => {
    const { client } = await freshDb();
    try {
      expect(await migratePostgres(client)).toBe(MIGRATIONS.length);
      const pgCols = (
        await client.query<{ table_name: string; column_name: string }>(
          `SELECT table_name, column_name FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name <> 'fgl_schema_version' ORDER BY table_name, ordinal_position`,
        )
      ).rows.map((r) => `${r.table_name}.${r.column_name}`);
      const pgKeys = (
        await client.query<{ table_name: string; column_name: string }>(
          `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
           JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
           WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' ORDER BY tc.table_name, kcu.ordinal_position`,
        )
      ).rows.map((r) => `${r.table_name}.${r.column_name}`);
      const tables = (
        await storeSql(sqlite).all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      ).map((t) => t.name);
      const liteCols: string[] = [];
      const liteKeys: string[] = [];
      for (const t of tables) {
        const info = await storeSql(sqlite).all<{ name: string; pk: number }>(`PRAGMA table_info(${t})`);
        for (const c of info) liteCols.push(`${t}.${c.name}`);
        for (const c of info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk)) liteKeys.push(`${t}.${c.name}`);
      }
      expect(pgCols.length).toBeGreaterThan(40);
      expect(pgCols).toEqual(liteCols);
      expect(pgKeys).toEqual(liteKeys);
      expect((await client.query('SELECT version FROM fgl_schema_version')).rows).toEqual([{ version: MIGRATIONS.length }]);
    } finally {
      await client.end();
    }
  });

  it('enforce the same constraints on both engines: foreign keys, the state CHECK, unique worker keys', async () => {
    const { client } = await freshDb();
    try {
      await migratePostgres(client);
      const at = "'2026-01-01T00:00:00.000Z'";
      for (const sql of [
        `INSERT INTO studies (id, manifest, created_at) VALUES ('s1', '{}', ${at})`,
        `INSERT INTO workers (id, name, key_sha256, created_at) VALUES ('w1', 'a', 'k', ${at})`,
      ]) {
        await client.query(sql);
        await storeSql(sqlite).run(sql);
      }
      for (const sql of [
        // a round of a study that does not exist
        `INSERT INTO rounds (id, study_id, state, created_at, updated_at) VALUES ('r1', 's-missing', 'collecting', ${at}, ${at})`,
        // a state the state machine does not know
        `INSERT INTO rounds (id, study_id, state, created_at, updated_at) VALUES ('r2', 's1', 'bogus', ${at}, ${at})`,
        // a second worker with the same key hash
        `INSERT INTO workers (id, name, key_sha256, created_at) VALUES ('w2', 'b', 'k', ${at})`,
        // a receipt for a round that does not exist
        `INSERT INTO synthesis_receipts (round_id, package_sha256, row, image_index, worker_id, batch_id, stored_at) VALUES ('r9', 'p', 0, 0, 'w1', 'b', ${at})`,
      ]) {
        await expect(client.query(sql), sql).rejects.toThrow();
        await expect(storeSql(sqlite).run(sql), sql).rejects.toThrow();
      }
    } finally {
      await client.end();
    }
  });

  it('run once when several replicas start together, and again is a no-op', async () => {
    const { url, client } = await freshDb();
    const others = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
    try {
      const versions = await Promise.all([client, ...others].map((c) => migratePostgres(c)));
      expect(versions).toEqual(Array(5).fill(MIGRATIONS.length));
      expect((await client.query('SELECT version FROM fgl_schema_version')).rows).toEqual([{ version: MIGRATIONS.length }]);
      expect(await migratePostgres(client)).toBe(MIGRATIONS.length);
    } finally {
      await Promise.all([client, ...others].map((c) => c.end()));
    }
  });

  it('refuse a schema newer than this fgl, changing nothing', async () => {
    const { client } = await freshDb();
    try {
      await migratePostgres(client);
      await client.query('UPDATE fgl_schema_version SET version = $1', [MIGRATIONS.length + 1]);
      await expect(migratePostgres(client)).rejects.toThrow(/schema version .* knows only/);
      expect((await client.query('SELECT version FROM fgl_schema_version')).rows).toEqual([{ version: MIGRATIONS.length + 1 }]);
    } finally {
      await client.end();
    }
  });
});
