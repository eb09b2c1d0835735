// @ts-check
import tseslint from 'typescript-eslint';

/**
 * Import layering (DESIGN.md, "Layout"; docs/architecture.md):
 *   shared   → nothing of ours
 *   core     → shared                    (plain-Node code both site and server run: models, ORT, images)
 *   site     → shared, core
 *   server   → shared, core
 *   main     → site, core, shared (+ electron)
 *   preload  → shared (+ electron)
 *   renderer → shared
 *   cli      → anything but main/preload/renderer
 */
const layers = {
  shared: ['core', 'site', 'server', 'main', 'preload', 'renderer', 'cli'],
  core: ['site', 'server', 'main', 'preload', 'renderer', 'cli'],
  site: ['server', 'main', 'preload', 'renderer', 'cli'],
  server: ['site', 'main', 'preload', 'renderer', 'cli'],
  main: ['server', 'preload', 'renderer', 'cli'],
  preload: ['core', 'site', 'server', 'main', 'renderer', 'cli'],
  renderer: ['core', 'site', 'server', 'main', 'preload', 'cli'],
  cli: ['main', 'preload', 'renderer'],
};
const nodeOnly = ['electron'];

const layerRules = Object.entries(layers).map(([layer, forbidden]) => {
  const banElectron = !['main', 'preload'].includes(layer);
  return {
    files: [`src/${layer}/**/*.{ts,tsx}`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...forbidden.map((f) => ({
              group: [`**/${f}/**`, `**/${f}`, `../${f}/*`],
              message: `src/${layer} must not import src/${f} (see docs/architecture.md, "Boundaries").`,
            })),
            ...(banElectron
              ? [{ group: nodeOnly, message: `src/${layer} must not import Electron: only main and preload may.` }]
              : []),
          ],
        },
      ],
    },
  };
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'test-artifacts/**', 'bench-results/**', '.fgl-tmp/**', '**/*.d.ts'] },
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'No default exports (docs/architecture.md).' },
      ],
    },
  },
  {
    // Tools need a default export in their config files.
    files: ['*.config.ts', '*.config.js', 'electron.vite.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  ...layerRules,
);
