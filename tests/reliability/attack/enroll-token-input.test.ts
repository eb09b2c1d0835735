import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main';
import { readEnrollToken, type SecretIo } from '../../../src/cli/secret-input';
import type { StudyManifest } from '../../../src/shared/study';
import {
  createStudy,
  issueToken,
  startTestServer,
  type TestServer,
} from '../../helpers/server-fixture';
import { captureOutput } from '../../helpers/capture-output';
import { recordFigures } from '../reliability-figures';

/*
 * Issue #14 finding 7: the enrollment token must not have to travel on the command line (other
 * users see it in `ps`; it stays in the shell history). Plus the coordinator's commands of issue
 * #15 item 1: `fgl server site list | revoke | reissue`, run against a live server's data dir.
 */

const io_ = captureOutput();

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

// One server and one temp folder for the whole file; FGL_HOME points at a new site per test.
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

describe('enrollment token sources (issue #14 finding 7)', () => {
  it('fgl site enroll --token-file FILE enrolls with no token on the command line', async () => {
    const { token } = await issueToken(t, study.id, 'File Hospital');
    const file = path.join(home, 'token.txt');
    await fs.writeFile(file, `${token}\n`, { mode: 0o600 });
    process.env.FGL_HOME = path.join(home, 'file-site');
    const argv = ['site', 'enroll', '--server', t.url, '--token-file', file, '--json'];
    const code = await main(argv);
    figures['--token-file'] = code === 0 ? 'enrolled' : `exit ${code}`;
    expect(io_.err).not.toContain('Warning');
    expect(code).toBe(0);
    expect(argv.join(' ')).not.toContain(token);
    expect((JSON.parse(io_.out) as { studies: string[] }).studies).toEqual([study.id]);
  });

  it('FGL_ENROLL_TOKEN enrolls; --token VALUE still works but warns about ps and shell history', async () => {
    process.env.FGL_ENROLL_TOKEN = (await issueToken(t, study.id, 'Env Hospital')).token;
    process.env.FGL_HOME = path.join(home, 'env-site');
    expect(await main(['site', 'enroll', '--server', t.url, '--json'])).toBe(0);
    delete process.env.FGL_ENROLL_TOKEN;
    expect(io_.err).not.toContain('Warning');
    io_.err = '';
    process.env.FGL_HOME = path.join(home, 'arg-site');
    const { token } = await issueToken(t, study.id, 'Arg Hospital');
    expect(await main(['site', 'enroll', '--server', t.url, '--token', token, '--json'])).toBe(0);
    figures['--token VALUE'] = io_.err.includes('visible to other users')
      ? 'works, warns'
      : 'no warning';
    expect(io_.err).toContain('visible to other users (ps)');
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
    // Ctrl-C (raw mode: the character, not a signal) cancels instead of hanging.
    const stdin2 = Object.assign(new PassThrough(), { isTTY: true });
    const cancelled = readEnrollToken({}, io({ stdin: stdin2, prompt }));
    stdin2.write('\u0003');
    await expect(cancelled).rejects.toThrow(/cancelled/);
  });
});

describe('fgl server site list | revoke | reissue (issue #15 item 1)', () => {
  /** Run `fgl ARGS --json` in-process; exit 0 expected; the parsed result. */
  const cli = async <T>(...args: string[]): Promise<T> => {
    io_.out = '';
    expect(await main([...args, '--json']), args.join(' ')).toBe(0);
    return JSON.parse(io_.out) as T;
  };
  const sites = () =>
    cli<{ sites: { siteId: string; state: string; activeKeys: number; packages: number }[] }>(
      'server',
      'site',
      'list',
      '--data-dir',
      t.dataDir,
      '--study',
      study.id,
    );
  const enrollFrom = async (dir: string, token: string) => {
    process.env.FGL_ENROLL_TOKEN = token;
    process.env.FGL_HOME = path.join(home, dir);
    try {
      return await cli<{ siteId: string }>('site', 'enroll', '--server', t.url);
    } finally {
      delete process.env.FGL_ENROLL_TOKEN;
    }
  };

  it('lists a site, revokes it (its key gets 401), re-issues a token that gives it a new key', async () => {
    const { siteId } = await enrollFrom(
      'site',
      (await issueToken(t, study.id, 'CLI Hospital')).token,
    );
    io_.out = '';
    expect(
      await main(['server', 'site', 'list', '--data-dir', t.dataDir, '--study', study.id]),
    ).toBe(0);
    expect(io_.out).toMatch(new RegExp(`${siteId}\\s+active\\s+keys 1\\s+packages 0`));
    const revoked = await cli<{ keysRevoked: number }>(
      'server',
      'site',
      'revoke',
      '--data-dir',
      t.dataDir,
      '--site',
      siteId,
    );
    expect(revoked.keysRevoked).toBe(1);
    expect((await sites()).sites.find((x) => x.siteId === siteId)).toMatchObject({
      siteId,
      state: 'revoked',
      activeKeys: 0,
    });
    const { token } = await cli<{ token: string }>(
      'server',
      'site',
      'reissue',
      '--data-dir',
      t.dataDir,
      '--study',
      study.id,
      '--site',
      siteId,
    );
    // The site, enrolled again from a fresh home with the re-issued token, keeps its id.
    expect((await enrollFrom('site-again', token)).siteId).toBe(siteId);
    expect((await sites()).sites.find((x) => x.siteId === siteId)).toMatchObject({
      siteId,
      state: 'active',
      activeKeys: 1,
    });
  });
});
