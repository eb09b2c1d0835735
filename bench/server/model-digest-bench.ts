/**
 * Model-folder hashing across server commands: a generator folder with a multi-GB UNet weights
 * file (unet/model.onnx_data, sparse, so it costs no disk) is digested the way every server
 * command does (generator digest + encoder digest), first in a fresh process with an empty digest
 * memo, then in a second fresh process, as a second `fgl server round run` would. Target: the
 * second spends < 1 s hashing.
 * Run: npx tsx bench/server/model-digest-bench.ts [--gb 2]
 * Prints one JSON object.
 */
import { spawn } from 'node:child_process';
import { open, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Child: digest the generator as a server command does and print the time spent. */
async function measure(generatorDir: string): Promise<void> {
  const { encoderDigest, modelDigest } = await import('../../src/core/models/model-digest');
  const t = performance.now();
  const generator = await modelDigest(generatorDir, 'generator');
  const encoder = await encoderDigest(generatorDir);
  process.stdout.write(JSON.stringify({ ms: performance.now() - t, generator, encoder }) + '\n');
}

function runChild(generatorDir: string, memoFile: string): Promise<{ ms: number; generator: string; encoder: string }> {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(process.execPath, ['--import', tsx, fileURLToPath(import.meta.url), '--measure', generatorDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FGL_DIGEST_CACHE: memoFile },
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => (out += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!) as { ms: number; generator: string; encoder: string }) : reject(new Error(`measure child exited ${String(code)}`)),
    );
  });
}

async function main(): Promise<void> {
  const gb = arg('gb', 2);
  const root = await mkdtemp(path.join(os.tmpdir(), 'fgl-digest-bench-'));
  try {
    const { makeTinyModels } = await import('../../src/cli/tiny-models/make-tiny-models');
    const tiny = await makeTinyModels(path.join(root, 'models'));
    const weights = path.join(tiny.dirs.generator, 'unet', 'model.onnx_data');
    const bytes = Math.round(gb * 1024 ** 3);
    const fd = await open(weights, 'w');
    await fd.truncate(bytes);
    await fd.close();
    const memoFile = path.join(root, 'file-digests.json');
    process.stderr.write(`model-digest: hashing a generator with a ${gb} GB unet/model.onnx_data, twice …\n`);
    const first = await runChild(tiny.dirs.generator, memoFile);
    const second = await runChild(tiny.dirs.generator, memoFile);
    process.stdout.write(
      JSON.stringify(
        {
          folderBytes: bytes,
          firstCommandHashSeconds: Math.round(first.ms) / 1000,
          secondCommandHashSeconds: Math.round(second.ms) / 1000,
          speedup: Math.round((first.ms / second.ms) * 10) / 10,
          sameDigests: first.generator === second.generator && first.encoder === second.encoder,
          targetSecondUnder1s: second.ms < 1000,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf('--measure');
if (at >= 0) await measure(process.argv[at + 1]!);
else await main();
