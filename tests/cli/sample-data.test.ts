import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { dirichletSplit } from '../../src/cli/sample-data/dirichlet-split';
import { makeSampleData } from '../../src/cli/sample-data/make-sample-data';
import { makeFashionSampleData } from '../../src/cli/sample-data/fashion-sample-data';
import { BUNDLED_FASHION_MNIST_DIR, readFashionMnistTest } from '../../src/cli/sample-data/fashion-mnist';
import { encodeIdx, parseIdx } from '../../src/cli/sample-data/idx-file';
import { FASHION_CLASSES } from '../../src/cli/mini-models/fashion-classes';
import { main } from '../../src/cli/main';
import { mkdir, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

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

async function pngFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.png')).sort();
}

describe('sample data: refusing to overwrite (issue #15 item 6)', () => {
  it('refuses a non-empty --out without --force, keeps its files, and replaces it with --force', async () => {
    const out = join(tmp, 'precious');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'scan-0001.dcm'), 'patient data');
    await expect(makeSampleData(out, { classes: 2, perClass: 2, seed: 1, size: 32 })).rejects.toThrow(/not empty.*nothing was written/);
    expect(await readFile(join(out, 'scan-0001.dcm'), 'utf8')).toBe('patient data');
    await expect(makeFashionSampleData(out, { sites: 0, beta: 1, seed: 1, images: 20, datasetDir: BUNDLED_FASHION_MNIST_DIR })).rejects.toMatchObject({ hint: expect.stringMatching(/--force/) });
    expect(await readdir(out)).toEqual(['scan-0001.dcm']);
    // The command line says the same, exits 1, and leaves the folder alone.
    const errs: string[] = [];
    const spy = (await import('vitest')).vi.spyOn(process.stderr, 'write').mockImplementation((x) => (errs.push(String(x)), true));
    try {
      expect(await main(['sample-data', '--out', out, '--classes', '2', '--per-class', '2'])).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errs.join('')).toMatch(/--force/);
    expect(await readdir(out)).toEqual(['scan-0001.dcm']);
    await makeSampleData(out, { classes: 2, perClass: 2, seed: 1, size: 32, force: true });
    expect((await readdir(out)).sort()).toEqual(['blue square', 'red circle']);
  });
});

describe('sample data: Fashion-MNIST test split', () => {
  it('reads IDX files, gzip or not, and rejects truncated ones with a clear message', () => {
    const idx = encodeIdx([2, 2, 2], Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    for (const bytes of [idx, new Uint8Array(gzipSync(idx))]) expect(parseIdx(bytes)).toEqual({ dims: [2, 2, 2], data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) });
    expect(() => parseIdx(idx.subarray(0, idx.length - 1), 'x.idx')).toThrow(/x.idx is truncated/);
    expect(() => parseIdx(Uint8Array.of(1, 2, 3, 4), 'y')).toThrow(/not an IDX file/);
  });

  it('the bundled subset is the first 3,000 images of the test split, all ten classes', async () => {
    const split = await readFashionMnistTest(BUNDLED_FASHION_MNIST_DIR);
    expect(split.source).toBe('dataset-dir');
    expect(split.labels.length).toBe(3000);
    expect(split.pixels.length).toBe(3000 * 28 * 28);
    expect(new Set(split.labels).size).toBe(10);
    expect(split.classes).toEqual(FASHION_CLASSES);
  });

  it('splits real images across sites with a train part and a held-out eval part, deterministically', async () => {
    const o = { sites: 3, beta: 0.5, seed: 4, images: 300, evalFraction: 0.25, minPerSite: 20, datasetDir: BUNDLED_FASHION_MNIST_DIR };
    const a = await makeFashionSampleData(join(tmp, 'fa'), o);
    await makeFashionSampleData(join(tmp, 'fb'), o);
    expect(await treeHash(join(tmp, 'fa'))).toBe(await treeHash(join(tmp, 'fb')));
    expect(a.dataset).toMatchObject({ name: 'fashion-mnist', split: 'test', available: 3000 });
    let total = 0;
    const seen = new Set<string>();
    for (const s of a.sites) {
      const train = await pngFiles(s.dir);
      const held = await pngFiles(s.eval!.dir);
      expect(train.length).toBe(s.images);
      expect(held.length).toBe(s.eval!.images);
      total += train.length + held.length;
      // Every image is in exactly one place: no image is both trained on and evaluated on.
      for (const f of [...train, ...held]) {
        const name = f.split('/').pop()!;
        expect(seen.has(name)).toBe(false);
        seen.add(name);
      }
      // Roughly a quarter of each site held out.
      expect(held.length / (train.length + held.length)).toBeGreaterThan(0.15);
      expect(held.length / (train.length + held.length)).toBeLessThan(0.35);
    }
    expect(total).toBe(300);
    // A PNG holds exactly the dataset's pixels, under its class's folder.
    const split = await readFashionMnistTest(BUNDLED_FASHION_MNIST_DIR);
    const cls = (await readdir(a.sites[0]!.dir))[0]!;
    const file = (await readdir(join(a.sites[0]!.dir, cls)))[0]!;
    const index = Number(/fmnist-test-(\d+)\.png/.exec(file)![1]);
    expect(FASHION_CLASSES[split.labels[index]!]).toBe(cls);
    const { data, info } = await sharp(join(a.sites[0]!.dir, cls, file)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([28, 28, 1]);
    expect(Buffer.from(data).equals(Buffer.from(split.pixels.subarray(index * 784, (index + 1) * 784)))).toBe(true);
  });

  it('says where to get the data when --dataset-dir has none, and refuses more images than there are', async () => {
    await expect(makeFashionSampleData(join(tmp, 'fx'), { sites: 2, beta: 1, seed: 1, datasetDir: tmp })).rejects.toThrow(/no Fashion-MNIST test split/);
    await expect(makeFashionSampleData(join(tmp, 'fy'), { sites: 2, beta: 1, seed: 1, images: 5000, datasetDir: BUNDLED_FASHION_MNIST_DIR })).rejects.toThrow(/more than the 3000 test images/);
  });
});
