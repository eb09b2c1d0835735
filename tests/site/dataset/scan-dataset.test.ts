import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ScanEvent,
  scanDataset,
  scanDatasetStream,
} from '../../../src/site/dataset/scan-dataset';
import type { ScanProgress } from '../../../src/site/dataset/scan-progress';
import {
  type ScanResult,
  ScanResult as ScanResultSchema,
} from '../../../src/site/dataset/scan-result';
import {
  type BrokenDataset,
  TIFF_NAME,
  UNICODE_CLASS,
  buildBrokenDataset,
  encodeImage,
  treeFingerprint,
} from '../../helpers/broken-images';

let ds: BrokenDataset;
let result: ScanResult;
let before: string;
let after: string;
const progress: ScanProgress[] = [];

beforeAll(async () => {
  ds = await buildBrokenDataset();
  before = await treeFingerprint(ds.base);
  result = await scanDataset(ds.root, { onProgress: (p) => progress.push(p) });
  after = await treeFingerprint(ds.base);
});
afterAll(async () => {
  await ds.cleanup();
});

describe('scanDataset on an ImageFolder full of broken cases', () => {
  it('returns a result that matches its schema', () => {
    expect(() => ScanResultSchema.parse(result)).not.toThrow();
    expect(result.layout).toBe('folder');
    expect(result.root).toBe(ds.root);
  });

  it('counts usable images per class, including a class folder with none', () => {
    expect(Object.fromEntries(result.classes.map((c) => [c.name, c.count]))).toEqual(
      ds.expectedCounts,
    );
    expect(result.images).toBe(15);
    expect(result.usable.length).toBe(15);
  });

  it('gives every broken entry its reason, and nothing else is skipped', () => {
    const skips = Object.fromEntries(result.skipped.map((s) => [s.path, s.reason]));
    const [l1, l2] = ds.duplicateLinks;
    // Two links to one outside folder: whichever is walked second is the duplicate.
    const dup = skips[`${l1}/`] === 'duplicate_folder' ? l1 : l2;
    const scanned = dup === l1 ? l2 : l1;
    expect(skips[`${dup}/`]).toBe('duplicate_folder');
    expect(skips[`${scanned}/x.txt`]).toBe('not_image');
    const expected = {
      ...ds.expectedSkips,
      [`${dup}/`]: 'duplicate_folder',
      [`${scanned}/x.txt`]: 'not_image',
    };
    expect(skips).toEqual(expected);
    for (const s of result.skipped) expect(s.detail.length).toBeGreaterThan(10);
  });

  it('covers every skip reason an ImageFolder can produce, except unreadable (see unreadable.test.ts)', () => {
    const reasons = new Set(result.skipped.map((s) => s.reason));
    for (const r of [
      'hidden',
      'no_label',
      'not_file',
      'broken_link',
      'symlink_loop',
      'duplicate_folder',
      'empty',
      'not_image',
      'unsupported',
      'corrupt',
      'too_large',
    ])
      expect(reasons).toContain(r);
  });

  it('records labels on skipped class files so the UI can say which class lost them', () => {
    expect(result.skipped.find((s) => s.path === 'dog/bomb.png')?.label).toBe('dog');
    expect(result.skipped.find((s) => s.path === 'root.png')?.label).toBeUndefined();
  });

  it('describes usable images by content: format, size after EXIF orientation, sha256, bytes', async () => {
    const byPath = new Map(result.usable.map((u) => [u.path, u]));
    expect(byPath.get('cat/a.jpg')).toMatchObject({
      format: 'jpeg',
      width: 20,
      height: 40,
      label: 'cat',
    });
    expect(byPath.get('cat/e.bmp')).toMatchObject({ format: 'bmp', width: 13, height: 7 });
    expect(byPath.get('cat/f.gif')).toMatchObject({ format: 'gif', width: 12, height: 8 });
    expect(byPath.get(`cat/${TIFF_NAME}`)).toMatchObject({ format: 'tiff' });
    expect(byPath.get('cat/c.webp')).toMatchObject({ format: 'webp' });
    expect(byPath.get('cat/nested/deeper.png')?.label).toBe('cat');
    // A symlinked file inside the dataset counts, under the class of the link.
    expect(byPath.get('dog/link-to-cat-a.jpg')).toMatchObject({
      label: 'dog',
      sha256: byPath.get('cat/a.jpg')!.sha256,
    });
    for (const u of result.usable) {
      const bytes = await readFile(path.join(ds.root, u.path));
      expect(u.bytes).toBe(bytes.length);
      expect(u.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });

  it('uses a PNG named .jpg, with an extension_mismatch note; a file without extension gets none', () => {
    const noted = result.usable.filter((u) => u.note === 'extension_mismatch').map((u) => u.path);
    expect(noted).toEqual(ds.expectedMismatch);
    expect(result.usable.find((u) => u.path === 'cat/png-named.jpg')?.format).toBe('png');
    expect(result.usable.find((u) => u.path === 'cat/noext')).toMatchObject({ format: 'png' });
  });

  it('handles unicode and spaces in class and file names', () => {
    expect(result.usable.filter((u) => u.label === UNICODE_CLASS).map((u) => u.path)).toEqual([
      `${UNICODE_CLASS}/photo 1.png`,
      `${UNICODE_CLASS}/photo 2.jpg`,
    ]);
  });

  it('flags classes with fewer than k usable images', () => {
    expect(result.smallClasses).toEqual([
      { name: 'dog', count: 4, k: 5 },
      { name: 'empty-class', count: 0, k: 5 },
      { name: UNICODE_CLASS, count: 2, k: 5 },
    ]);
  });

  it('leaves the dataset byte-identical: contents, modes, sizes, mtimes, ctimes, links', () => {
    expect(after.split('\n').length).toBeGreaterThan(30);
    expect(after).toBe(before);
  });

  it('sorts usable and skipped by path', () => {
    const paths = result.usable.map((u) => u.path);
    expect(paths).toEqual([...paths].sort());
  });

  it('reports progress ending with done = total and a positive rate', () => {
    expect(progress.length).toBeGreaterThanOrEqual(1);
    const last = progress.at(-1)!;
    const entries = result.usable.length + result.skipped.length;
    expect(last).toMatchObject({ stage: 'scan', done: entries, total: entries, etaSec: 0 });
    expect(last.ratePerSec).toBeGreaterThan(0);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
  });

  it('flags small classes against the k it is given', async () => {
    const r = await scanDataset(ds.root, { k: 3, concurrency: 1 });
    expect(r.smallClasses.map((c) => c.name)).toEqual(['empty-class', UNICODE_CLASS]);
    expect(r.images).toBe(15);
  });
});

describe('symlink loops', () => {
  let base: string;
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'fgl-loops-'));
    const c = path.join(base, 'c');
    await mkdir(path.join(c, 'inner', 'deeper'), { recursive: true });
    await writeFile(path.join(c, 'inner', 'deeper', 'img.png'), await encodeImage('png', 8, 8));
    await symlink('../..', path.join(c, 'inner', 'deeper', 'up-two')); // → c
    await symlink('.', path.join(c, 'inner', 'self')); // → c/inner
    await symlink('../../..', path.join(c, 'inner', 'deeper', 'to-root')); // → dataset root
    await symlink('l2', path.join(c, 'l1')); // l1 → l2 → l1: the kernel says ELOOP
    await symlink('l1', path.join(c, 'l2'));
    await symlink('c', path.join(base, 'same-as-c')); // a second class folder that is c again
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('terminates and reports each loop once, scanning each real folder once', async () => {
    const r = await scanDataset(base);
    const skips = Object.fromEntries(r.skipped.map((s) => [s.path, s.reason]));
    // Which of c and same-as-c is walked first depends on directory order.
    const first = r.usable[0]!.path.startsWith('c/') ? 'c' : 'same-as-c';
    const second = first === 'c' ? 'same-as-c' : 'c';
    expect(r.usable.map((u) => u.path)).toEqual([`${first}/inner/deeper/img.png`]);
    expect(skips).toEqual({
      [`${first}/inner/deeper/up-two/`]: 'symlink_loop',
      [`${first}/inner/self/`]: 'symlink_loop',
      [`${first}/inner/deeper/to-root/`]: 'symlink_loop',
      [`${first}/l1`]: 'symlink_loop',
      [`${first}/l2`]: 'symlink_loop',
      [`${second}/`]: 'duplicate_folder',
    });
  });

  it('follows a folder link that points outside the dataset (a symlink farm)', async () => {
    const farm = await mkdtemp(path.join(os.tmpdir(), 'fgl-farm-'));
    try {
      await symlink(path.join(base, 'c', 'inner'), path.join(farm, 'linked-class'));
      const r = await scanDataset(farm);
      expect(r.classes).toEqual([{ name: 'linked-class', count: 1 }]);
      expect(r.usable[0]!.path).toBe('linked-class/deeper/img.png');
    } finally {
      await rm(farm, { recursive: true, force: true });
    }
  });
});

describe('cancelling', () => {
  let base: string;
  const FILES = 120;
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'fgl-abort-'));
    await mkdir(path.join(base, 'a'));
    const png = await encodeImage('png', 64, 64);
    for (let i = 0; i < FILES; i++) await writeFile(path.join(base, 'a', `${i}.png`), png);
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('stops the stream promptly with an AbortError: at most the in-flight files finish', async () => {
    const ac = new AbortController();
    const concurrency = 3;
    let afterAbort = 0;
    let files = 0;
    const run = async () => {
      for await (const ev of scanDatasetStream(base, {
        signal: ac.signal,
        concurrency,
      }) as AsyncGenerator<ScanEvent>) {
        if (ev.type === 'class') continue;
        files++;
        if (ac.signal.aborted) afterAbort++;
        if (files === 5) ac.abort(new Error('user pressed cancel'));
      }
    };
    const err = await run().catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect((err as Error).message).toContain('user pressed cancel');
    expect(afterAbort).toBeLessThanOrEqual(concurrency);
    expect(files).toBeLessThan(FILES);
  });

  it('scanDataset rejects with an AbortError when aborted from a progress callback', async () => {
    const ac = new AbortController();
    let events = 0;
    const err = await scanDataset(base, {
      signal: ac.signal,
      onProgress: () => {
        events++;
        ac.abort();
      },
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(events).toBe(1);
  });

  it('does nothing at all with an already-aborted signal', async () => {
    let calls = 0;
    const err = await scanDataset(base, {
      signal: AbortSignal.abort(),
      onProgress: () => calls++,
    }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(calls).toBe(0);
  });
});

describe('a dataset that cannot be scanned', () => {
  it('says so with a hint, for a missing folder and for a file', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'fgl-notdir-'));
    await mkdir(path.join(base, 'a'));
    await writeFile(path.join(base, 'a', '0.png'), 'x');
    await expect(scanDataset('/nonexistent/fgl-dataset')).rejects.toMatchObject({
      name: 'DatasetError',
      hint: expect.any(String),
    });
    const file = path.join(base, 'a', '0.png');
    await expect(scanDataset(file)).rejects.toThrow(/is not a folder/);
    await rm(base, { recursive: true, force: true });
  });
});
