import type pg from 'pg';
import type { SqlDb, SqlDialect, SqlParams, SqlRunner } from './sql-db';

const POSTGRES: SqlDialect = {
  engine: 'postgres',
  jsonNumber: (column, key) => `CAST(CAST(${column} AS json) ->> '${key}' AS DOUBLE PRECISION)`,
  forUpdate: ' FOR UPDATE',
  // No rowid: round ids sort by their creation second, then a random part.
  roundsInsertOrder: 'id',
};

const converted = new Map<string, string>();

/** `?` placeholders (the repositories' SQL never has a `?` elsewhere) to PostgreSQL's `$1, $2…`. */
export function toPostgresSql(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    converted.set(sql, out);
  }
  return out;
}

function runnerOn(
  query: (sql: string, params: SqlParams) => Promise<pg.QueryResult>,
  transaction: SqlRunner['transaction'],
): SqlRunner {
  return {
    dialect: POSTGRES,
    all: async <T>(sql: string, params: SqlParams = []) => (await query(sql, params)).rows as T[],
    get: async <T>(sql: string, params: SqlParams = []) =>
      (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql, params = []) => (await query(sql, params)).rowCount ?? 0,
    transaction,
  };
}

/** The URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/**
 * SqlDb on a `pg` pool: statements on any pooled connection, a transaction on one connection it
 * holds from BEGIN to COMMIT (READ COMMITTED; the repositories lock what they read-then-write
 * with `FOR UPDATE`, so replicas on the same database serialise those writes).
 */
export class PostgresDb implements SqlDb {
  readonly dialect = POSTGRES;
  readonly location: string;
  private readonly pooled: SqlRunner;

  constructor(
    readonly pool: pg.Pool,
    url: string,
  ) {
    this.location = redactUrl(url);
    this.pooled = runnerOn(
      (sql, params) => pool.query(toPostgresSql(sql), params as unknown[]),
      (fn) => this.transaction(fn),
    );
  }

  all<T>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.pooled.all<T>(sql, params);
  }

  get<T>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.pooled.get<T>(sql, params);
  }

  run(sql: string, params?: SqlParams): Promise<number> {
    return this.pooled.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: SqlRunner = runnerOn(
      (sql, params) => client.query(toPostgresSql(sql), params as unknown[]),
      (inner) => inner(tx),
    );
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
