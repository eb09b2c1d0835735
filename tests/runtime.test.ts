import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';

describe('runtime', () => {
  it('runs on the Node 24 binary from the `node` npm package (Electron 45 ships Node 24)', () => {
    // npm scripts put node_modules/.bin first on PATH; system Node 20 would crash better-sqlite3 13.
    const major = Number(process.versions.node.split('.')[0]);
    expect(major).toBeGreaterThanOrEqual(22);
  });
  it('loads better-sqlite3 13 (N-API prebuild, no rebuild)', () => {
    const db = new Database(':memory:');
    expect(db.prepare('select 1 + 1 as v').get()).toEqual({ v: 2 });
    db.close();
  });
});
