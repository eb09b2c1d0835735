import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandHelp } from './help';
import type { HelpIndex } from './fast-main';
import { REPO_ROOT } from './repo-root';

/** Where bin/fgl.mjs keeps the built CLI: same depth below the root as src/cli/ (see repo-root.ts). */
export const BUNDLE_DIR = join(REPO_ROOT, '.fgl-tmp', 'cli');

/**
 * Build the CLI bundle bin/fgl.mjs starts from: src/cli/fast-main.ts and, split into chunks of
 * their own, every command (npm packages stay external), plus the help index and `stamp` (what
 * bin/fgl.mjs compares with the sources to know the bundle is current). Built into a temporary
 * folder and renamed into place, so a concurrent start never sees half a bundle.
 */
export async function buildCliBundle(stamp: string): Promise<void> {
  const { build } = await import('esbuild');
  const tmp = `${BUNDLE_DIR}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await build({
      entryPoints: { fgl: join(REPO_ROOT, 'src', 'cli', 'fast-main.ts') },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      packages: 'external',
      outdir: tmp,
      logLevel: 'error',
    });
    // Help for every command comes from the commands themselves, once per build.
    const { commands } = await import('./commands/registry');
    const index: HelpIndex = { commands: commands.map((c) => ({ path: c.path, summary: c.summary, help: commandHelp(c) })) };
    await writeFile(join(tmp, 'help-index.json'), JSON.stringify(index));
    await writeFile(join(tmp, 'stamp.json'), JSON.stringify({ stamp }));
    await mkdir(join(REPO_ROOT, '.fgl-tmp'), { recursive: true });
    await rm(BUNDLE_DIR, { recursive: true, force: true });
    await rename(tmp, BUNDLE_DIR);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
