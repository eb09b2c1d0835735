import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cudaAvailability } from '../../bench/gpu/gpu-bench-checks';
import { CUDA_INSTALL_COMMAND } from '../../src/core/ort/execution-device';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('npm run bench -- gpu', () => {
  it('runs its CUDA check; without a working CUDA provider it says why and how to install it, and exits 0', async () => {
    const cuda = await cudaAvailability();
    const r = spawnSync(process.execPath, ['--import', tsx, 'bench/gpu/gpu-bench.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
      // On a CUDA machine this runs the real benchmark (it generates the fp16 models first).
      timeout: cuda.available ? 30 * 60_000 : 60_000,
    });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      benchmark: string;
      ran: boolean;
      reason?: string;
      installCommand?: string;
      sdTurboOneStep512?: { batch: number; msPerImage: number }[];
    };
    expect(out.benchmark).toBe('gpu');
    expect(out.ran).toBe(cuda.available);
    if (!cuda.available) {
      // The CPU-only path: the reason and the fix, on stderr for people and in the JSON.
      expect(out.reason).toBe(cuda.reason);
      expect(out.installCommand).toBe(CUDA_INSTALL_COMMAND);
      expect(r.stderr).toContain('No CUDA here');
      expect(r.stderr).toContain(CUDA_INSTALL_COMMAND);
    } else {
      expect(out.sdTurboOneStep512?.map((x) => x.batch)).toEqual([1, 4, 8]);
      for (const row of out.sdTurboOneStep512 ?? []) expect(row.msPerImage).toBeGreaterThan(0);
    }
  });
});
