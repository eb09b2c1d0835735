import { fileURLToPath } from 'node:url';

/**
 * The FGL checkout (or installed package) root. Computed from this file's depth (src/cli/), which
 * is also where the built CLI bundle lives (.fgl-tmp/cli/), so it is right in both.
 */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
