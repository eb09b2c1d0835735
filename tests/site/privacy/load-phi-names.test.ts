import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPhiNames, parsePhiNames } from '../../../src/site/privacy/load-phi-names';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fgl-phi-names-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('PHI names list', () => {
  it('parses one name a line, lowercases, strips diacritics, skips comments and blanks', () => {
    const names = parsePhiNames('# header\nJohn\r\n\n  José \nO’Brien\n');
    expect([...names].sort()).toEqual(['jose', 'john', "o'brien"].sort());
  });

  it('loads a list from a file path', async () => {
    const path = join(dir, 'names.txt');
    await writeFile(path, 'alice\nbob\n');
    expect(await loadPhiNames(path)).toEqual(new Set(['alice', 'bob']));
  });

  it('refuses a missing or empty list, naming the path', async () => {
    await expect(loadPhiNames(join(dir, 'nope.txt'))).rejects.toThrow(
      /Cannot read the PHI names list at .*nope\.txt/,
    );
    const empty = join(dir, 'empty.txt');
    await writeFile(empty, '# only a comment\n');
    await expect(loadPhiNames(empty)).rejects.toThrow(/is empty; name scrubbing would be disabled/);
  });

  it('the shipped list has a few thousand lowercase names', async () => {
    const names = await loadPhiNames(
      fileURLToPath(new URL('../../../resources/phi/names.txt', import.meta.url)),
    );
    expect(names.size).toBeGreaterThan(2500);
    for (const n of ['maria', 'smith', 'nguyen', 'patel', 'garcia', "o'brien", 'mohammed', 'wang'])
      expect(names.has(n)).toBe(true);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z'-]*$/);
  });
});
