import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { dirichletSplit } from '../../src/cli/sample-data/dirichlet-split';
import { makeSampleData } from '../../src/cli/sample-data/make-sample-data';

const tmp = await mkdtemp(join(tmpdir(), 'fgl-sample-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const e of (await readdir(dir, { recursive: true, withFileTypes: true })).sort((a, b) =>
    join(a.parentPath, a.name).localeCompare(join(b.parentPath, b.name)),
  )) {
    if (!e.isFile()) continue;
    h.update(join(e.parentPath, e.name).slice(dir.length));
    h.update(await readFile(join(e.parentPath, e.name)));
  }
  return h.digest('hex');
}

describe('Dirichlet label-skew split', () => {
  const labels = Array.from({ length: 400 }, (_, i) => i % 4);
  it('assigns every item exactly once and gives each site the minimum', () => {
    const parts = dirichletSplit(labels, 5, 0.5, 7, 10);
    const all = parts.flat().sort((a, b) => a - b);
    expect(all).toEqual(labels.map((_, i) => i));
    for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(10);
  });
  it('skews labels more for small β than for large β', () => {
    // Mean over sites of the largest class share: ~1 for very skewed splits, ~1/4 for IID.
    const skew = (beta: number) => {
      const parts = dirichletSplit(labels, 4, beta, 3, 10);
      const maxShare = parts.map((p) => Math.max(...[0, 1, 2, 3].map((c) => p.filter((i) => labels[i] === c).length)) / p.length);
      return maxShare.reduce((a, b) => a + b, 0) / parts.length;
    };
    expect(skew(0.1)).toBeGreaterThan(0.6);
    expect(skew(1000)).toBeLessThan(0.35);
  });
  it('refuses impossible minimums with a message that says what to change', () => {
    expect(() => dirichletSplit(labels.slice(0, 20), 3, 0.5, 1, 10)).toThrow(/lower --sites/);
  });
});

describe('sample data', () => {
  it('draws a deterministic ImageFolder set split across sites', async () => {
    const a = await makeSampleData(join(tmp, 'a'), { classes: 3, perClass: 12, seed: 5, size: 48, sites: 2, beta: 1, minPerSite: 5 });
    const b = await makeSampleData(join(tmp, 'b'), { classes: 3, perClass: 12, seed: 5, size: 48, sites: 2, beta: 1, minPerSite: 5 });
    expect(a.images).toBe(36);
    expect(a.sites.reduce((s, x) => s + x.images, 0)).toBe(36);
    expect(b.sites.map((s) => s.counts)).toEqual(a.sites.map((s) => s.counts));
    expect(await treeHash(join(tmp, 'a'))).toBe(await treeHash(join(tmp, 'b')));
    const site1 = await readdir(join(tmp, 'a', 'site-1'));
    for (const cls of site1) expect(a.classes).toContain(cls);
    const first = (await readdir(join(tmp, 'a', 'site-1', site1[0]!)))[0]!;
    const meta = await sharp(join(tmp, 'a', 'site-1', site1[0]!, first)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 48, 48]);
  });
  it('gives classes visibly different pixels (a red circle is red)', async () => {
    const r = await makeSampleData(join(tmp, 'c'), { classes: 2, perClass: 3, seed: 1, size: 64 });
    const dir = join(tmp, 'c', 'red circle');
    const f = (await readdir(dir))[0]!;
    const { data, info } = await sharp(join(dir, f)).raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels) if (data[i]! > 180 && data[i + 1]! < 80 && data[i + 2]! < 80) red++;
    expect(red / (info.width * info.height)).toBeGreaterThan(0.05);
    expect(r.classes).toEqual(['red circle', 'blue square']);
  });
});
