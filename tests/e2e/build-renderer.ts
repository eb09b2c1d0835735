import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type InlineConfig } from 'vite';
import electronViteConfig from '../../electron.vite.config';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Build the renderer from the app's own electron.vite.config.ts renderer section (so the test
 * runs what `npm run build` ships) into `outDir`, with the relative base electron-vite uses.
 */
export async function buildRenderer(
  outDir = join(repoRoot, '.fgl-tmp', 'e2e-renderer'),
): Promise<string> {
  const cfg = (electronViteConfig as { renderer?: InlineConfig }).renderer;
  if (!cfg) throw new Error('electron.vite.config.ts has no renderer section');
  await build({
    ...cfg,
    configFile: false,
    root: resolve(repoRoot, cfg.root ?? 'src/renderer'),
    base: './',
    logLevel: 'warn',
    build: { ...cfg.build, outDir, emptyOutDir: true, minify: false, reportCompressedSize: false },
  });
  if (!existsSync(join(outDir, 'index.html')))
    throw new Error(`renderer build wrote no index.html in ${outDir}`);
  return outDir;
}
