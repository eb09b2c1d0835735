import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where site state lives (ledger, keys, model cache, packages): $FGL_HOME, else the OS's
 * app-data folder. The desktop app passes Electron's userData path instead.
 */
export function siteHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.FGL_HOME) return env.FGL_HOME;
  const home = homedir();
  switch (platform) {
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'FGL');
    case 'darwin':
      return join(home, 'Library', 'Application Support', 'FGL');
    default:
      return join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'fgl');
  }
}

export function sitePaths(home: string) {
  return {
    home,
    ledger: join(home, 'ledger.sqlite'),
    models: process.env.FGL_MODELS_DIR ?? join(home, 'models'),
    packages: join(home, 'packages'),
    reports: join(home, 'reports'),
    downloads: join(home, 'downloads'),
  };
}
