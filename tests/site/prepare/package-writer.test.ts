import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONDITIONING_TOKENS,
  encodePackage,
  type EncodePackageInput,
} from '../../../src/shared/embedding-package';
import { PackageMetadata } from '../../../src/shared/package-format';
import { stagePackageFile } from '../../../src/site/prepare/package-writer';

const metadata = PackageMetadata.parse({
  format: 'fgl-embedding-package',
  format_version: '1',
  study_id: 'derm',
  site_id: 'site-b',
  encoder_id: 'stabilityai/sd-turbo',
  encoder_sha256: 'ef'.repeat(32),
  prompt_mode: 'class',
  aggregation: 'cluster',
  k: '5',
  app_version: '0.1.0',
  created_at: '2026-11-24T03:04:05Z',
});

function input(n: number, dim: number, dtype: 'F16' | 'F32'): EncodePackageInput {
  const conditioning = new Float32Array(n * CONDITIONING_TOKENS * dim);
  for (let i = 0; i < conditioning.length; i++) conditioning[i] = Math.cos(i * 0.11) * 2;
  return {
    metadata,
    conditioning,
    n,
    dim,
    dtype,
    labels: new Int32Array(n).map((_, i) => i % 3),
    counts: new Int32Array(n).fill(6),
  };
}

/** Rows as fresh arrays, made only when the writer asks (and counted, to show it asks one at a time). */
function* rowsOf(p: EncodePackageInput, log: number[] = []): Generator<Float32Array> {
  const perRow = CONDITIONING_TOKENS * p.dim;
  for (let r = 0; r < p.n; r++) {
    log.push(r);
    yield p.conditioning.slice(r * perRow, (r + 1) * perRow);
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fgl-package-writer-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('stagePackageFile: the package streamed to disk', () => {
  it('writes exactly encodePackage’s bytes, with their sha256, mode 0600, only once committed', async () => {
    for (const dtype of ['F16', 'F32'] as const) {
      const p = input(7, 96, dtype);
      const file = join(dir, `pkg-${dtype}`, 'package.safetensors');
      const staged = await stagePackageFile(file, p, rowsOf(p));
      const expected = encodePackage(p);
      expect(staged.bytes).toBe(expected.length);
      expect(staged.sha256).toBe(createHash('sha256').update(expected).digest('hex'));
      await expect(stat(file)).rejects.toThrow(/ENOENT/); // staged, not yet in place
      await staged.commit();
      const written = await readFile(file);
      expect(written.equals(Buffer.from(expected))).toBe(true);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readdir(join(dir, `pkg-${dtype}`))).toEqual(['package.safetensors']);
      await staged.discard(); // after a commit: leaves the package alone
      expect((await readFile(file)).length).toBe(expected.length);
    }
  });

  it('pulls rows one at a time as it writes them', async () => {
    const p = input(4, 8, 'F16');
    const log: number[] = [];
    const rows = rowsOf(p, log);
    const staged = await stagePackageFile(join(dir, 'lazy', 'package.safetensors'), p, rows);
    expect(log).toEqual([0, 1, 2, 3]);
    await staged.discard();
  });

  it('leaves no file behind when a row is bad, rows are missing, or the run is cancelled', async () => {
    const sub = join(dir, 'bad');
    const p = input(3, 4, 'F16');
    p.conditioning[CONDITIONING_TOKENS * 4 + 2] = Number.POSITIVE_INFINITY;
    await expect(stagePackageFile(join(sub, 'package.safetensors'), p, rowsOf(p))).rejects.toThrow(
      /row 1: conditioning value Infinity/,
    );
    const q = input(3, 4, 'F32');
    const short = [...rowsOf(q)].slice(0, 2);
    await expect(stagePackageFile(join(sub, 'package.safetensors'), q, short)).rejects.toThrow(
      /only 2 of the 3/,
    );
    const controller = new AbortController();
    function* cancelling(): Generator<Float32Array> {
      const all = [...rowsOf(q)];
      yield all[0]!;
      controller.abort();
      yield all[1]!;
      yield all[2]!;
    }
    await expect(
      stagePackageFile(join(sub, 'package.safetensors'), q, cancelling(), {
        signal: controller.signal,
      }),
    ).rejects.toThrow(/abort/i);
    expect(await readdir(sub)).toEqual([]);
  });

  it('discard removes a staged package that is not wanted', async () => {
    const sub = join(dir, 'discard');
    const p = input(2, 4, 'F16');
    const staged = await stagePackageFile(join(sub, 'package.safetensors'), p, rowsOf(p));
    expect(await readdir(sub)).toHaveLength(1);
    await staged.discard();
    expect(await readdir(sub)).toEqual([]);
  });
});
