// The server store's two engines, for tests that run the same assertions on both
// (describe.each(STORE_ENGINES)): SQLite in the test's data dir, and a fresh database on a
// throwaway PostgreSQL 15 cluster (tests/helpers/postgres-server.ts) started once per test file.
import pg from 'pg';
import { startTestPostgres, type TestPostgres } from './postgres-server';

export const STORE_ENGINES = ['sqlite', 'postgres'] as const;
export type StoreEngine = (typeof STORE_ENGINES)[number];

export type StoreFactory = {
  /** `{ store: url }` for startTestServer on PostgreSQL (a new empty database), `{}` on SQLite. */
  options(engine: StoreEngine): Promise<{ store?: string }>;
  /** A new empty PostgreSQL database's URL. */
  postgresUrl(): Promise<string>;
  /** Stop the cluster, if one was started. */
  stop(): Promise<void>;
};

export function storeFactory(): StoreFactory {
  let cluster: Promise<TestPostgres> | undefined;
  let n = 0;
  const postgresUrl = async () => {
    cluster ??= startTestPostgres();
    const { url } = await cluster;
    const name = `fgl_store_${process.pid}_${++n}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return url.replace(/\/postgres$/, `/${name}`);
  };
  return {
    postgresUrl,
    async options(engine) {
      return engine === 'postgres' ? { store: await postgresUrl() } : {};
    },
    async stop() {
      if (cluster) await (await cluster).stop();
    },
  };
}
