import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SynthesizedImageRecord } from '../../src/server/synthesis/synthesized-image-record';
import { sha256Hex } from './server-fixture';

/**
 * A round's synthetic folder holds every image exactly once: one PNG and one sidecar per (row,
 * index), no temporary `.part` files, each sidecar naming its own row and index and its PNG's
 * sha256. Returns the sidecars, row by row, for the caller's own checks (steps, device, …).
 */
export async function expectEveryImageOnce(dir: string, rows: number, imagesPerRow: number): Promise<SynthesizedImageRecord[]> {
  const total = rows * imagesPerRow;
  const names = (await readdir(dir)).sort();
  expect(names.filter((n) => n.endsWith('.part'))).toEqual([]);
  expect(names.filter((n) => n.endsWith('.png'))).toHaveLength(total);
  expect(names.filter((n) => n.endsWith('.json'))).toHaveLength(total);
  const records: SynthesizedImageRecord[] = [];
  for (let row = 0; row < rows; row++)
    for (let i = 0; i < imagesPerRow; i++) {
      const rec = SynthesizedImageRecord.parse(JSON.parse(await readFile(join(dir, `${row}-${i}.json`), 'utf8')));
      expect(rec.png.sha256).toBe(sha256Hex(await readFile(join(dir, `${row}-${i}.png`))));
      expect([rec.row, rec.index]).toEqual([row, i]);
      records.push(rec);
    }
  return records;
}
