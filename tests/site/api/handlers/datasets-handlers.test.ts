import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { datasetsHandlers } from '../../../../src/site/api/handlers/datasets-handlers';
import { encodeImage } from '../../../helpers/broken-images';
import { siteContextFixture, type SiteContextFixture } from '../../../helpers/site-context-fixture';

let f: SiteContextFixture;
beforeEach(async () => void (f = await siteContextFixture()));
afterEach(() => f.close());

describe('datasets handlers', () => {
  it('scans a class folder: counts per class, skipped files with reasons, small classes, progress', async () => {
    const root = join(f.home, 'data');
    for (const [cls, n] of [['cat', 3], ['dog', 1]] as const) {
      await mkdir(join(root, cls), { recursive: true });
      for (let i = 0; i < n; i++) await writeFile(join(root, cls, `${i}.png`), await encodeImage('png', 24, 16, i));
    }
    await writeFile(join(root, 'cat', 'notes.txt'), 'not an image');
    const r = await f.call(datasetsHandlers(), 'datasets.scan', { dir: root, k: 2 });
    expect(r.ok).toBe(true);
    const s = (r as { data: { images: number; classes: unknown[]; skipped: { path: string; reason: string }[]; smallClasses: unknown[] } }).data;
    expect(s.images).toBe(4);
    expect(s.classes).toEqual([{ name: 'cat', count: 3 }, { name: 'dog', count: 1 }]);
    expect(s.skipped.map((x) => x.path)).toEqual(['cat/notes.txt']);
    expect(s.smallClasses).toEqual([{ name: 'dog', count: 1, k: 2 }]);
    expect(f.events.some((e) => e.type === 'progress' && e.job === 'scan')).toBe(true);
  });

  it('says what is wrong with a missing folder, and that there is no native picker here', async () => {
    const h = datasetsHandlers();
    expect(await f.call(h, 'datasets.scan', { dir: join(f.home, 'nope') })).toMatchObject({ ok: false, error: { code: 'dataset_unreadable' } });
    expect(await f.call(h, 'datasets.pickFolder', {})).toMatchObject({ ok: false, error: { code: 'not_available', hint: 'Type the folder path instead.' } });
  });
});
