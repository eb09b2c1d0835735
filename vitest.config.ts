import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // ORT and sharp use native threads; forks keep each file in its own process.
    pool: 'forks',
    // Debian packages the suites need (Chromium, Orthanc, Redis, PostgreSQL, pydicom's files).
    globalSetup: ['tests/setup/system-packages.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Model-file digests memoized by the tests stay out of the user's own cache folder.
    // The machine-wide ε record likewise (tests that charge ε set their own per file).
    env: {
      FGL_DIGEST_CACHE: join(tmpdir(), 'fgl-test-file-digests.json'),
      FGL_PRIVACY_LEDGER: join(tmpdir(), `fgl-test-privacy-spend-${process.pid}.sqlite`),
    },
  },
});
