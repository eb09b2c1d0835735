import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main';
import { commands } from '../../src/cli/commands/registry';
import { StudyManifest } from '../../src/shared/study';
import { encoderDigest } from '../../src/core/models/model-digest';
import { captureOutput } from '../helpers/capture-output';
import { getTinyModels } from '../helpers/tiny-models';

const io = captureOutput();

const tmp = await mkdtemp(join(tmpdir(), 'fgl-cli-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('fgl CLI', () => {
  it('lists every command in --help', async () => {
    expect(await main(['--help'])).toBe(0);
    for (const c of commands) expect(io.out).toContain(c.path.join(' '));
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))('`fgl %s --help` teaches usage, options and examples', async (_, c) => {
    expect(await main([...c.path, '--help'])).toBe(0);
    expect(io.out).toMatch(new RegExp(`^Usage: fgl ${c.path.join(' ')}`));
    expect(io.out).toContain('--json');
    for (const name of Object.keys(c.options)) expect(io.out).toContain(`--${name}`);
    expect(c.description.trim().length).toBeGreaterThan(80);
  });

  it('exits 2 with a hint on unknown commands and bad options, without a stack trace', async () => {
    expect(await main(['nope'])).toBe(2);
    expect(io.err).toContain('unknown command');
    io.err = '';
    expect(await main(['sample-data', '--bogus'])).toBe(2);
    expect(io.err).toMatch(/Run `fgl sample-data --help`/);
    expect(io.err).not.toMatch(/\n\s+at \S+ \(/);
  });

  it('study init writes a valid manifest naming the tiny encoder by digest (--json)', async () => {
    const tiny = await getTinyModels();
    const file = join(tmp, 'study.json');
    expect(await main(['study', 'init', '--name', 'Shapes', '--classes', 'red circle, blue square', '--models', tiny.root, '--k', '7', '--out', file, '--json'])).toBe(0);
    const printed = JSON.parse(io.out) as { studyId: string };
    const manifest = StudyManifest.parse(JSON.parse(await readFile(file, 'utf8')));
    expect(manifest.id).toBe(printed.studyId);
    expect(manifest.classes).toEqual(['red circle', 'blue square']);
    expect(manifest.privacy.k).toBe(7);
    expect(manifest.encoder.sha256).toBe(await encoderDigest(tiny.dirs.generator));
    expect(manifest.encoder.dim).toBe(tiny.options.textHiddenDim);
    expect(io.err).toContain('tiny models');
  });

  it('study init refuses duplicate classes with a usage error', async () => {
    expect(await main(['study', 'init', '--name', 'x', '--classes', 'a,a', '--out', join(tmp, 'x.json')])).toBe(2);
    expect(io.err).toContain('names "a" twice');
  });

  it('server study create refuses classes that differ only in case (one class-name rule)', async () => {
    expect(await main(['server', 'study', 'create', '--name', 'x', '--classes', 'Normal,normal', '--data-dir', join(tmp, 'srv')])).toBe(2);
    expect(io.err).toContain('--classes names "Normal" and "normal", which are the same class (names are compared ignoring case, spaces, "_" and "-"): keep one');
  });
});
