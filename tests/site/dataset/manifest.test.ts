import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../../src/site/dataset/parse-csv';
import { readManifest } from '../../../src/site/dataset/read-manifest';
import { scanDataset } from '../../../src/site/dataset/scan-dataset';
import type { ScanProgress } from '../../../src/site/dataset/scan-progress';
import { encodeImage, treeFingerprint, truncated } from '../../helpers/broken-images';

describe('parseCsv', () => {
  it('handles quotes, escaped quotes, delimiters and line breaks inside quotes, CRLF', () => {
    const rows = parseCsv(
      'path,label\r\n"a, b.png",cat\n"say ""hi"".png","multi\nline"\nlast.png,dog',
    );
    expect(rows.map((r) => r.cells)).toEqual([
      ['path', 'label'],
      ['a, b.png', 'cat'],
      ['say "hi".png', 'multi\nline'],
      ['last.png', 'dog'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 5]);
  });

  it('parses other delimiters and refuses an unterminated quote', () => {
    expect(parseCsv('a;b\n1;2\n', ';').map((r) => r.cells)).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(() => parseCsv('path,label\n"open.png,cat\n')).toThrow(/line 2/);
  });
});

describe('manifest layout', () => {
  let base: string;
  let data: string;
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'fgl-manifest-'));
    data = path.join(base, 'data');
    await mkdir(path.join(data, 'imgs', 'sub dir'), { recursive: true });
    await writeFile(path.join(base, 'outside.png'), await encodeImage('png', 8, 8, 1));
    await writeFile(path.join(data, 'imgs', 'a.png'), await encodeImage('png', 8, 8, 2));
    await writeFile(path.join(data, 'imgs', 'b.jpg'), await encodeImage('jpeg', 8, 8, 3));
    await writeFile(
      path.join(data, 'imgs', 'sub dir', 'ç 1.webp'),
      await encodeImage('webp', 8, 8, 4),
    );
    await writeFile(
      path.join(data, 'imgs', 'broken.jpg'),
      truncated(await encodeImage('jpeg', 64, 64, 5)),
    );
    await writeFile(path.join(data, 'imgs', 'c.png'), await encodeImage('png', 8, 8, 6));
    await writeFile(path.join(data, 'imgs', 'unlabelled.png'), await encodeImage('png', 8, 8, 7));
    await writeFile(
      path.join(data, 'labels.csv'),
      [
        'path,label,comment',
        'imgs/a.png,pneumonia,first',
        'imgs/b.jpg, normal ,spaces around the label are trimmed',
        '"imgs/sub dir/ç 1.webp",pneumonia,"quoted, with comma"',
        'imgs/broken.jpg,normal,',
        '../outside.png,normal,escapes the folder',
        'imgs/../../outside.png,normal,escapes after normalising',
        `${path.join(base, 'outside.png')},normal,absolute outside`,
        `${path.join(data, 'imgs', 'c.png')},normal,absolute inside is fine`,
        './imgs/a.png,normal,same file again',
        'imgs/missing.png,normal,',
        'imgs/unlabelled.png,,',
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(data, 'labels.json'),
      JSON.stringify([
        { path: 'imgs/a.png', label: 'pneumonia' },
        { path: 'imgs/b.jpg', label: 0 },
        { path: '../outside.png', label: 'normal' },
        { path: '/etc/hostname', label: 'normal' },
      ]),
    );
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('scans the files a CSV lists, relative to the manifest folder, and keeps them inside it', async () => {
    const before = await treeFingerprint(base);
    const progress: ScanProgress[] = [];
    const r = await scanDataset(data, {
      manifest: 'labels.csv',
      onProgress: (p) => progress.push(p),
    });
    expect(await treeFingerprint(base)).toBe(before);
    expect(r.layout).toBe('manifest');
    expect(r.usable.map((u) => [u.path, u.label])).toEqual([
      ['imgs/a.png', 'pneumonia'],
      ['imgs/b.jpg', 'normal'],
      ['imgs/c.png', 'normal'],
      ['imgs/sub dir/ç 1.webp', 'pneumonia'],
    ]);
    expect(r.classes).toEqual([
      { name: 'normal', count: 2 },
      { name: 'pneumonia', count: 2 },
    ]);
    expect(r.skipped.map((s) => [s.path, s.reason])).toEqual(
      [
        ['imgs/broken.jpg', 'corrupt'],
        ['../outside.png', 'outside_root'],
        ['imgs/../../outside.png', 'outside_root'],
        [path.join(base, 'outside.png'), 'outside_root'],
        ['./imgs/a.png', 'duplicate_entry'],
        ['imgs/missing.png', 'missing'],
        ['imgs/unlabelled.png', 'no_label'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    // The total is known from the manifest, so the final event has it.
    expect(progress.at(-1)).toMatchObject({ done: 11, total: 11, etaSec: 0 });
  });

  it('reads a JSON manifest the same way (numbers as labels become strings)', async () => {
    const r = await scanDataset(data, { manifest: path.join(data, 'labels.json') });
    expect(r.usable.map((u) => [u.path, u.label])).toEqual([
      ['imgs/a.png', 'pneumonia'],
      ['imgs/b.jpg', '0'],
    ]);
    expect(r.skipped.map((s) => s.reason)).toEqual(['outside_root', 'outside_root']);
  });

  it('refuses a manifest without path/label columns, or that is not a list, with a hint', async () => {
    await writeFile(path.join(base, 'bad.csv'), 'file,class\na.png,x\n');
    await writeFile(path.join(base, 'bad.json'), '{"path":"a.png"}');
    await writeFile(path.join(base, 'semi.csv'), 'path;label\nimgs/a.png;x\n');
    await expect(readManifest(path.join(base, 'bad.csv'))).rejects.toMatchObject({
      name: 'DatasetError',
      message: expect.stringMatching(/path.*label/),
    });
    await expect(readManifest(path.join(base, 'bad.json'))).rejects.toMatchObject({
      name: 'DatasetError',
      hint: expect.stringContaining('JSON array'),
    });
    await expect(readManifest(path.join(base, 'nope.csv'))).rejects.toMatchObject({
      name: 'DatasetError',
    });
    expect(await readManifest(path.join(base, 'semi.csv'))).toEqual({
      key: 'path',
      entries: [{ path: 'imgs/a.png', label: 'x', where: 'line 2' }],
    });
  });
});
