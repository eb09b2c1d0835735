import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main';
import { readEnrollToken, type SecretIo } from '../../../src/cli/secret-input';
import type { StudyManifest } from '../../../src/shared/study';
import {
  createStudy,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14 finding 7: the enrollment token must not have to travel on the command line (other
 * users see it in `ps`; it stays in the shell history). Plus the coordinator's commands of issue
 * #15 item 1: `fgl server site list | revoke | reissue`, run against a live server's data dir.
 */

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const figures: Record<string, number | string> = {};
const io = (o: Partial<SecretIo> & { input?: string } = {}): SecretIo & { warnings: string[] } => {
  const warnings: string[] = [];
  return {
    stdin: o.stdin ?? Readable.from(o.input !== undefined ? [o.input] : []),
    prompt: o.prompt ?? new Writable({ write: (_c, _e, cb) => cb() }),
    env: o.env ?? {},
    warn: (l) => warnings.push(l),
    warnings,
  };
};

describe('enrollment token sources (issue #14 finding 7)', () => {
  let t: TestServer;
  let study: StudyManifest;
  let home: string;
  const prevHome = process.env.FGL_HOME;

  beforeAll(async () => {
    t = await startTestServer();
    study = await createStudy(t);
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-attack-token-'));
  });
  afterAll(async () => {
    recordFigures('attack', '#7 enrollment token off the command line', figures);
    process.env.FGL_HOME = prevHome;
    delete process.env.FGL_ENROLL_TOKEN;
    await t?.close();
    await fs.rm(home, { recursive: true, force: true });
  });

  it('fgl site enroll --token-file FILE enrolls with no token on the command line', async () => {
    const { token } = await issueToken(t, study.id, 'File Hospital');
    const file = path.join(home, 'token.txt');
    await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
    process.env.FGL_HOME = path.join(home, 'file-site');
    const argv = ['site', 'enroll', '--server', t.url, '--token-file', file, '--json'];
    const code = await main(argv);
    figures['--token-file'] = code === 0 ? 'enrolled' : `exit ${code}`;
    expect(err).not.toContain('Warning');
    expect(code).toBe(0);
    expect(argv.join(' ')).not.toContain(token);
    expect((JSON.parse(out) as { studies: string[] }).studies).toEqual([study.id]);
  });

  it('FGL_ENROLL_TOKEN enrolls; --token VALUE still works but warns about ps and shell history', async () => {
    process.env.FGL_ENROLL_TOKEN = (await issueToken(t, study.id, 'Env Hospital')).token;
    process.env.FGL_HOME = path.join(home, 'env-site');
    expect(await main(['site', 'enroll', '--server', t.url, '--json'])).toBe(0);
    delete process.env.FGL_ENROLL_TOKEN;
    expect(err).not.toContain('Warning');
    err = '';
    process.env.FGL_HOME = path.join(home, 'arg-site');
    const { token } = await issueToken(t, study.id, 'Arg Hospital');
    expect(await main(['site', 'enroll', '--server', t.url, '--token', token, '--json'])).toBe(0);
    figures['--token VALUE'] = err.includes('visible to other users')
      ? 'works, warns'
      : 'no warning';
    expect(err).toContain('visible to other users (ps)');
  });

  it('reads `--token -` from stdin, refuses empty or multi-line input, and asks nothing off a terminal', async () => {
    expect(await readEnrollToken({ token: '-' }, io({ input: '  fgl_enroll_abc \n' }))).toBe(
      'fgl_enroll_abc',
    );
    await expect(readEnrollToken({ token: '-' }, io({ input: '\n' }))).rejects.toThrow(/empty/);
    await expect(readEnrollToken({ token: '-' }, io({ input: 'a\nb\n' }))).rejects.toThrow(
      /several lines/,
    );
    await expect(readEnrollToken({}, io())).rejects.toThrow(/no enrollment token given/);
    expect(await readEnrollToken({}, io({ env: { FGL_ENROLL_TOKEN: 'fgl_enroll_env' } }))).toBe(
      'fgl_enroll_env',
    );
    await expect(readEnrollToken({ token: 'x', tokenFile: 'y' }, io())).rejects.toThrow(/once/);
  });

  it('asks on a terminal without echoing the token', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    let shown = '';
    const prompt = new Writable({ write: (c: Buffer, _e, cb) => ((shown += c.toString()), cb()) });
    const p = readEnrollToken({}, io({ stdin, prompt }));
    stdin.write('fgl_enroll_typed\n');
    expect(await p).toBe('fgl_enroll_typed');
    expect(shown).toContain('Enrollment token');
    expect(shown).not.toContain('fgl_enroll_typed');
  });
});

describe('fgl server site list | revoke | reissue (issue #15 item 1)', () => {
  let t: TestServer;
  let study: StudyManifest;
  let home: string;
  const prevHome = process.env.FGL_HOME;
  beforeAll(async () => {
    t = await startTestServer();
    study = await createStudy(t);
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'fgl-attack-sites-'));
  });
  afterAll(async () => {
    process.env.FGL_HOME = prevHome;
    await t?.close();
    await fs.rm(home, { recursive: true, force: true });
  });

  it('lists a site, revokes it (its key gets 401), re-issues a token that gives it a new key', async () => {
    process.env.FGL_ENROLL_TOKEN = (await issueToken(t, study.id, 'CLI Hospital')).token;
    process.env.FGL_HOME = path.join(home, 'site');
    expect(await main(['site', 'enroll', '--server', t.url, '--json'])).toBe(0);
    delete process.env.FGL_ENROLL_TOKEN;
    const siteId = (JSON.parse(out) as { siteId: string }).siteId;
    out = '';
    expect(
      await main(['server', 'site', 'list', '--data-dir', t.dataDir, '--study', study.id]),
    ).toBe(0);
    expect(out).toMatch(new RegExp(`${siteId}\\s+active\\s+keys 1\\s+packages 0`));
    out = '';
    expect(
      await main(['server', 'site', 'revoke', '--data-dir', t.dataDir, '--site', siteId]),
    ).toBe(0);
    expect(out).toContain('1 API key(s) stopped working');
    out = '';
    expect(
      await main([
        'server',
        'site',
        'list',
        '--data-dir',
        t.dataDir,
        '--study',
        study.id,
        '--json',
      ]),
    ).toBe(0);
    expect(
      (JSON.parse(out) as { sites: { state: string; activeKeys: number }[] }).sites[0],
    ).toMatchObject({ state: 'revoked', activeKeys: 0 });
    out = '';
    expect(
      await main([
        'server',
        'site',
        'reissue',
        '--data-dir',
        t.dataDir,
        '--study',
        study.id,
        '--site',
        siteId,
        '--json',
      ]),
    ).toBe(0);
    const { token } = JSON.parse(out) as { token: string };
    // The site, enrolled again from a fresh home with the re-issued token, keeps its id.
    process.env.FGL_ENROLL_TOKEN = token;
    process.env.FGL_HOME = path.join(home, 'site-again');
    out = '';
    expect(await main(['site', 'enroll', '--server', t.url, '--json'])).toBe(0);
    delete process.env.FGL_ENROLL_TOKEN;
    expect((JSON.parse(out) as { siteId: string }).siteId).toBe(siteId);
    out = '';
    expect(
      await main([
        'server',
        'site',
        'list',
        '--data-dir',
        t.dataDir,
        '--study',
        study.id,
        '--json',
      ]),
    ).toBe(0);
    expect(
      (JSON.parse(out) as { sites: { state: string; activeKeys: number }[] }).sites[0],
    ).toMatchObject({ state: 'active', activeKeys: 1 });
  });
});
