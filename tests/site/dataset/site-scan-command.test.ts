import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CommandContext,
  type Output,
  UsageError,
  parseArgsOptions,
} from '../../../src/cli/command';
import { siteScanCommand } from '../../../src/cli/commands/site-scan';
import { type BrokenDataset, buildBrokenDataset, encodeImage } from '../../helpers/broken-images';

/** Runs the command the way src/cli/main.ts does, capturing what it prints. */
async function runScan(args: string[]) {
  const parsed = parseArgs({
    args,
    options: parseArgsOptions(siteScanCommand),
    allowPositionals: true,
    strict: true,
  });
  const json = Boolean(parsed.values.json);
  const printed: { data?: unknown; human?: string; info: string[]; warn: string[] } = {
    info: [],
    warn: [],
  };
  const out: Output = {
    json,
    tty: false,
    result(data, human) {
      printed.data = data;
      if (!json) printed.human = human();
    },
    info: (l) => void printed.info.push(l),
    warn: (l) => void printed.warn.push(l),
  };
  const ctx: CommandContext = {
    values: parsed.values as CommandContext['values'],
    positionals: parsed.positionals,
    out,
    signal: new AbortController().signal,
  };
  const code = (await siteScanCommand.run(ctx)) ?? 0;
  return { code, ...printed };
}

let ds: BrokenDataset;
beforeAll(async () => {
  ds = await buildBrokenDataset();
});
afterAll(async () => {
  await ds.cleanup();
});

describe('fgl site scan', () => {
  it('is registered under `site scan`', () => {
    expect(siteScanCommand.path).toEqual(['site', 'scan']);
  });

  it('--json prints {classes:[{name,count}], images, skipped:[{path,reason}]} and more', async () => {
    const { code, data } = await runScan([ds.root, '--json', '--k', '3']);
    expect(code).toBe(0);
    const d = data as {
      classes: { name: string; count: number }[];
      images: number;
      skipped: Record<string, unknown>[];
      smallClasses: { name: string }[];
    };
    expect(d.images).toBe(15);
    expect(Object.fromEntries(d.classes.map((c) => [c.name, c.count]))).toEqual(ds.expectedCounts);
    for (const s of d.skipped) expect(Object.keys(s).sort()).toEqual(['path', 'reason']);
    expect(d.skipped).toContainEqual({ path: 'dog/bomb.png', reason: 'too_large' });
    expect(d.smallClasses.map((c) => c.name)).toEqual(['empty-class', 'ñandú 🐦']);
  });

  it('prints a class table, skipped files grouped by reason, and the small classes', async () => {
    const { human } = await runScan([ds.root]);
    expect(human).toMatch(/^cat\s+9$/m);
    expect(human).toMatch(/^ñandú 🐦\s+2$/m);
    expect(human).toMatch(/^total\s+15$/m);
    expect(human).toMatch(/^ {2}corrupt \(2\)$/m);
    expect(human).toMatch(/^ {4}dog\/bomb\.png: .*30000×30000/m);
    expect(human).toContain('cat/png-named.jpg (png)');
    expect(human).toMatch(
      /Small classes \(fewer than k=5 usable images\): dog \(4\), empty-class \(0\), ñandú 🐦 \(2\)/,
    );
  });

  it('reads a manifest relative to the working directory', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'fgl-cli-'));
    try {
      await mkdir(path.join(base, 'd'));
      await writeFile(path.join(base, 'd', 'x.png'), await encodeImage('png', 8, 8));
      await writeFile(path.join(base, 'd', 'm.csv'), 'path,label\nx.png,a\n../escape.png,a\n');
      const { data } = await runScan([
        path.join(base, 'd'),
        '--manifest',
        path.relative(process.cwd(), path.join(base, 'd', 'm.csv')),
        '--json',
      ]);
      expect(data).toMatchObject({
        layout: 'manifest',
        images: 1,
        skipped: [{ path: '../escape.png', reason: 'outside_root' }],
      });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('exits 1 with a warning when nothing is usable, and refuses bad arguments', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'fgl-cli-'));
    try {
      await writeFile(path.join(base, 'loose.png'), await encodeImage('png', 8, 8));
      const r = await runScan([base, '--json']);
      expect(r.code).toBe(1);
      expect(r.warn[0]).toContain('no usable image');
      await expect(runScan([])).rejects.toBeInstanceOf(UsageError);
      await expect(runScan([base, '--k', '0'])).rejects.toBeInstanceOf(UsageError);
      await expect(runScan([base, 'extra'])).rejects.toBeInstanceOf(UsageError);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
