import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIGEST_MEMO_MIN_BYTES,
  digestFiles,
  digestMemoFile,
  encoderDigest,
  hashFile,
  hashFiles,
  modelDigest,
} from '../../../src/core/models/model-digest';
import { MODEL_LAYOUTS } from '../../../src/core/models/model-layouts';

let root: string;

async function writeTree(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(dir, ...rel.split('/'));
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'fgl-digest-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('digestFiles', () => {
  const big = randomBytes(3 * 1024 * 1024 + 17); // several read chunks
  const files = { 'a.bin': big, 'sub/b.txt': 'hello\n', 'c.json': '{}' };

  it('equals sha256 over sorted "sha256  path" lines, independent of the order given', async () => {
    const dir = path.join(root, 'one');
    await writeTree(dir, files);
    const expected = createHash('sha256')
      .update(
        ['a.bin', 'c.json', 'sub/b.txt']
          .map(
            (p) =>
              `${createHash('sha256')
                .update(files[p as keyof typeof files])
                .digest('hex')}  ${p}\n`,
          )
          .join(''),
      )
      .digest('hex');
    expect(await digestFiles(dir, ['sub/b.txt', 'a.bin', 'c.json'])).toBe(expected);
    expect(await digestFiles(dir, ['c.json', 'sub/b.txt', 'a.bin'])).toBe(expected);
    expect((await hashFile(path.join(dir, 'a.bin'))).bytes).toBe(big.length);
  });

  it('is the same for the same bytes in another folder and changes with any single byte or name', async () => {
    const a = path.join(root, 'copy-a');
    const b = path.join(root, 'copy-b');
    await writeTree(a, files);
    await writeTree(b, files);
    const rels = Object.keys(files);
    const base = await digestFiles(a, rels);
    expect(await digestFiles(b, rels)).toBe(base);

    const seen = new Set([base]);
    for (const pos of [0, 1 << 20, big.length - 1]) {
      const changed = Buffer.from(big);
      changed[pos] = changed[pos]! ^ 1;
      await writeFile(path.join(b, 'a.bin'), changed);
      const d = await digestFiles(b, rels);
      expect(seen.has(d)).toBe(false);
      seen.add(d);
    }
    await writeFile(path.join(b, 'a.bin'), big);
    expect(await digestFiles(b, rels)).toBe(base);

    // Same bytes under another name is another model.
    await writeTree(b, { 'd.json': '{}' });
    expect(await digestFiles(b, ['a.bin', 'sub/b.txt', 'd.json'])).not.toBe(base);
  });
});

describe('modelDigest / encoderDigest', () => {
  async function fakeGenerator(dir: string): Promise<void> {
    const tree: Record<string, string> = {};
    for (const f of MODEL_LAYOUTS.generator.required) tree[f] = `content of ${f}`;
    await writeTree(dir, tree);
  }

  it('needs the required files and names the missing ones', async () => {
    const dir = path.join(root, 'gen-missing');
    await fakeGenerator(dir);
    await rm(path.join(dir, 'unet', 'model.onnx'));
    await expect(modelDigest(dir, 'generator')).rejects.toThrow(/missing unet\/model\.onnx/);
  });

  it('includes optional files when present', async () => {
    const dir = path.join(root, 'gen-optional');
    await fakeGenerator(dir);
    const without = await modelDigest(dir, 'generator');
    await writeTree(dir, { 'unet/model.onnx_data': 'weights' });
    expect(await modelDigest(dir, 'generator')).not.toBe(without);
  });

  it('the encoder digest follows the text encoder and tokenizer, not the UNet', async () => {
    const dir = path.join(root, 'gen-encoder');
    await fakeGenerator(dir);
    const enc = await encoderDigest(dir);
    const model = await modelDigest(dir, 'generator');
    await writeFile(path.join(dir, 'unet', 'model.onnx'), 'another unet');
    expect(await encoderDigest(dir)).toBe(enc);
    expect(await modelDigest(dir, 'generator')).not.toBe(model);

    const vocab = path.join(dir, 'tokenizer', 'vocab.json');
    await writeFile(vocab, (await readFile(vocab, 'utf8')) + ' ');
    expect(await encoderDigest(dir)).not.toBe(enc);
  });
});

describe('digest memo (big files hashed once per path, size, mtime, ctime, inode)', () => {
  const memoOf = async (file: string) =>
    JSON.parse(await readFile(file, 'utf8')) as { files: Record<string, { sha256: string; size: number }> };

  it('reuses a big file’s hash from the memo file and re-hashes it once it changes, even with its mtime restored', async () => {
    const dir = path.join(root, 'memo');
    const memoFile = path.join(root, 'memo-cache', 'file-digests.json');
    const saved = process.env.FGL_DIGEST_CACHE;
    process.env.FGL_DIGEST_CACHE = memoFile;
    try {
      const big = randomBytes(DIGEST_MEMO_MIN_BYTES + 5);
      await writeTree(dir, { 'big.bin': big, 'small.txt': 'small' });
      const real = createHash('sha256').update(big).digest('hex');
      expect(await digestFiles(dir, ['big.bin', 'small.txt'])).toBe(await digestFiles(dir, ['big.bin', 'small.txt']));
      const memo = await memoOf(memoFile);
      const bigPath = path.resolve(dir, 'big.bin');
      expect(Object.keys(memo.files)).toEqual([bigPath]); // small files are not memoized
      expect(memo.files[bigPath]!.sha256).toBe(real);

      // Proof that the second command reads the memo, not the file: a planted hash is returned as is.
      memo.files[bigPath]!.sha256 = 'f'.repeat(64);
      await writeFile(memoFile, JSON.stringify(memo));
      const [planted] = await hashFiles(dir, ['big.bin']);
      expect(planted!.sha256).toBe('f'.repeat(64));

      // An edit of the same size with the old mtime put back still changes ctime: re-hashed.
      const { mtime, atime } = await stat(path.join(dir, 'big.bin'));
      big[0] = big[0]! ^ 0xff;
      await writeFile(path.join(dir, 'big.bin'), big);
      await utimes(path.join(dir, 'big.bin'), atime, mtime);
      const [edited] = await hashFiles(dir, ['big.bin']);
      expect(edited!.sha256).toBe(createHash('sha256').update(big).digest('hex'));
    } finally {
      if (saved === undefined) delete process.env.FGL_DIGEST_CACHE;
      else process.env.FGL_DIGEST_CACHE = saved;
    }
  });

  it('FGL_DIGEST_CACHE=off hashes every time and writes no memo; the default lives in the user cache folder', async () => {
    expect(digestMemoFile({ FGL_DIGEST_CACHE: 'off' })).toBeNull();
    expect(digestMemoFile({ XDG_CACHE_HOME: '/c' }, 'linux')).toBe(path.join('/c', 'fgl', 'file-digests.json'));
    expect(digestMemoFile({ LOCALAPPDATA: 'C:\\L' }, 'win32')).toContain(path.join('FGL', 'Cache'));
  });
});
