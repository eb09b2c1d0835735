import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MachineSpend } from '../../../src/site/privacy/machine-spend';

// The machine-wide ε record is migrated by the runner the ledger and the server store share.
describe('the machine-wide ε record', () => {
  it('is versioned, keeps its charges across opens, and refuses a record from a newer FGL', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'fgl-machine-spend-')), 'spend.sqlite');
    const a = MachineSpend.open(file);
    a.recordUnits(['image:x'], {
      studyId: 's',
      epsilon: 0.5,
      delta: 1e-6,
      packageSha256: 'p',
      siteLedger: 'l',
    });
    a.close();
    const b = MachineSpend.open(file);
    expect(b.spentByUnits(['image:x', 'image:y'])).toBe(0.5);
    b.close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.pragma('user_version = 9');
    db.close();
    expect(() => MachineSpend.open(file)).toThrow(/schema version 9, written by a newer FGL/);
  });
});
