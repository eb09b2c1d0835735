import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollSite } from '../../../src/site/client/enroll-site';
import { Ledger } from '../../../src/site/ledger/ledger';
import {
  createStudy,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../../helpers/reliability-figures';

/*
 * The site ledger holds the site API key (enrollments.api_key) and the audit log, so the SQLite
 * file and its -wal/-shm companions must be readable by the site's own account only, whatever
 * the umask and however the file came to exist.
 */

const mode = async (f: string) => (await fs.stat(f)).mode & 0o777;

describe('site ledger file permissions (reliability)', () => {
  let t: TestServer;
  let work: string;
  let studyId: string;
  const seen: Record<string, string> = {};
  let oldUmask: number;

  beforeAll(async () => {
    t = await startTestServer();
    studyId = (await createStudy(t)).id;
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-ledger-mode-'));
    // The most permissive umask: whatever protection there is must come from the code, not the shell.
    oldUmask = process.umask(0o000);
  });
  afterAll(async () => {
    process.umask(oldUmask);
    await t.close();
    await fs.rm(work, { recursive: true, force: true });
    recordFigures('access.json', 'ledgerPermissions', {
      filesChecked: Object.keys(seen).length,
      allMode0600: Object.values(seen).every((m) => m === '600'),
      umask: '000',
    });
  });

  async function expectPrivate(file: string, label: string): Promise<void> {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      const exists = await fs.stat(f).then(
        () => true,
        () => false,
      );
      if (!exists) continue;
      const m = await mode(f);
      seen[`${label}:${path.basename(f)}`] = m.toString(8);
      expect(m, `${path.basename(f)} (${label})`).toBe(0o600);
    }
  }

  it('a new ledger holding an enrolled API key is 0600 (db, -wal, -shm) in a 0700 folder, while open and after reopening', async () => {
    const file = path.join(work, 'home', 'ledger.sqlite');
    const ledger = Ledger.open(file);
    try {
      const tok = await issueToken(t, studyId, 'Mode Site');
      await enrollSite(ledger, t.url, tok.token);
      // The key really is in this file: that is why its mode matters.
      expect(Buffer.from(ledger.enrollments.list()[0]!.apiKey).toString('utf8')).toMatch(
        /^fgl_site_/,
      );
      // While open in WAL mode the companions exist; all three must be private.
      expect(await fs.stat(`${file}-wal`).then(() => true)).toBe(true);
      await expectPrivate(file, 'open');
      expect(await mode(path.dirname(file))).toBe(0o700);
    } finally {
      ledger.close();
    }
    await expectPrivate(file, 'closed');
    const again = Ledger.open(file);
    try {
      again.transaction(() => again.enrollments.list());
      await expectPrivate(file, 'reopened');
    } finally {
      again.close();
    }
  });

  it('a ledger file that exists with loose permissions (a restored backup) is tightened on open', async () => {
    const file = path.join(work, 'restored', 'ledger.sqlite');
    const first = Ledger.open(file);
    const tok = await issueToken(t, studyId, 'Restored Site');
    await enrollSite(first, t.url, tok.token);
    first.close();
    await fs.chmod(file, 0o644);
    await fs.chmod(path.dirname(file), 0o755);
    expect(await mode(file)).toBe(0o644);
    const ledger = Ledger.open(file);
    try {
      await expectPrivate(file, 'restored');
    } finally {
      ledger.close();
    }
  });
});
