import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command';
import { benchCommand } from '../../src/cli/commands/bench';
import { cudaAvailability } from '../../bench/gpu/gpu-bench-checks';
import { recordingContext } from '../helpers/command-context';

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'fgl-bench-cmd-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

it('fgl bench gpu runs the GPU script in its own process and saves what it printed', async () => {
  const cuda = await cudaAvailability();
  const { ctx, results } = recordingContext({ out }, true, ['gpu']);
  expect(await benchCommand.run(ctx)).toBe(0);
  const files = await readdir(out);
  expect(files.filter((f) => /^gpu-.*\.json$/.test(f))).toHaveLength(1);
  const record = JSON.parse(await readFile(join(out, files[0]!), 'utf8')) as {
    area: string;
    scripts: { name: string; ok: boolean; result: { ran: boolean; reason?: string } }[];
  };
  expect(record.area).toBe('gpu');
  expect(record.scripts[0]).toMatchObject({
    name: 'gpu',
    ok: true,
    result: { ran: cuda.available },
  });
  if (!cuda.available) expect(record.scripts[0]!.result.reason).toBe(cuda.reason);
  expect((results[0] as { files: string[] }).files).toEqual([join(out, files[0]!)]);
}, 120_000);

it('names the areas when given an unknown one', async () => {
  await expect(benchCommand.run(recordingContext({ out }, true, ['gpus']).ctx)).rejects.toThrow(
    new UsageError('expected one area, site, server, cli, scale, gpu or all; got "gpus"'),
  );
});
