import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile } from '../../../src/core/models/model-digest';

// hashFile is the one streaming sha256 of a file: model digests, publishing (listModelFiles) and
// model verification (verifyModelFolder) all use it.
describe('hashFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fgl-hash-file-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives the FIPS 180-2 digests of "abc" and of an empty file, with their sizes', async () => {
    await writeFile(path.join(dir, 'abc'), 'abc');
    await writeFile(path.join(dir, 'empty'), '');
    expect(await hashFile(path.join(dir, 'abc'))).toEqual({
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      bytes: 3,
    });
    expect(await hashFile(path.join(dir, 'empty'))).toEqual({
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      bytes: 0,
    });
  });

  it('refuses a missing file with its path in the error', async () => {
    await expect(hashFile(path.join(dir, 'nope'))).rejects.toThrow(/nope/);
  });
});
