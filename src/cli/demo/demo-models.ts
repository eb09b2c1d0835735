import { mkdir, symlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ModelStore, networkAllowedByEnv } from '../../core/models/model-store';
import { DEFAULT_MODEL_IDS, resolveModelsOption } from '../study/models-folder';

export type DemoModels = { dir: string; banner: string | null };

/** What the mini bundle is, for the demo's banner. */
export const MINI_BANNER = [
  'This demo uses the MINI foundation bundle (resources/mini-models): a small CLIP and a small',
  'text-conditioned generator trained here on the Fashion-MNIST TRAIN split (tools/mini-models),',
  'in the real models\' layouts, so every production code path runs. Sites hold real Fashion-MNIST',
  'TEST images the bundle never saw. It stands in for CLIP + Stable Diffusion; it is not them.',
];

/**
 * `tiny` → generated tiny models; `mini` → the committed mini bundle; a DIR → that folder;
 * `default` → the real models from the local cache, downloaded only when network use is
 * allowed, else the mini bundle with a banner that says what it is and how to get the real ones.
 */
export async function resolveDemoModels(value: string, cacheDir: string, log: (l: string) => void): Promise<DemoModels> {
  if (value === 'mini') return { dir: await resolveModelsOption(value, cacheDir), banner: MINI_BANNER.join('\n') };
  if (value !== 'default') return { dir: await resolveModelsOption(value, cacheDir), banner: null };
  const allowNetwork = networkAllowedByEnv();
  const store = new ModelStore({ cacheDir, allowNetwork, log });
  try {
    const dirs = {
      clip: (await store.resolve({ id: DEFAULT_MODEL_IDS.clip }, 'clip')).dir,
      generator: (await store.resolve({ id: DEFAULT_MODEL_IDS.generator }, 'generator')).dir,
    };
    // The demo reads a models folder with clip/ and generator/: link the cached models into one.
    const dir = join(cacheDir, 'demo-default');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await symlink(dirs.clip, join(dir, 'clip'), 'dir');
    await symlink(dirs.generator, join(dir, 'generator'), 'dir');
    return { dir, banner: null };
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    return {
      dir: await resolveModelsOption('mini', cacheDir),
      banner: [
        ...MINI_BANNER,
        `Real models are not in the local cache and downloading is not allowed (${why}).`,
        `To use real models (${DEFAULT_MODEL_IDS.clip}, ${DEFAULT_MODEL_IDS.generator}):`,
        '  FGL_ALLOW_NETWORK=1 npm run demo           download them once into the cache, or',
        '  npm run demo -- --models DIR               a folder with clip/ and generator/ copied in.',
        `  npm run demo -- --models tiny              generated tiny models (plumbing only, chance accuracy).`,
      ].join('\n'),
    };
  }
}
