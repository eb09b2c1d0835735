// Vitest global setup: the Debian packages the suites need (tools/system-packages/system-packages.sh
// lists them and why), installed before any test runs when they are missing and this process may
// install them (root with apt-get), so `npm install && npm test` passes on a fresh Debian machine.
// Elsewhere it says what is missing and how to install it, and the tests that need a package fail
// with their own message naming it. FGL_TEST_NO_APT=1 never installs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/child-process';

const SCRIPT = join(REPO_ROOT, 'tools', 'system-packages', 'system-packages.sh');

export function setup(): void {
  if (process.platform !== 'linux') return;
  const check = spawnSync('bash', [SCRIPT, 'check'], { encoding: 'utf8' });
  if (check.status === 0) return;
  const missing = check.stdout.trim();
  const canInstall =
    process.env.FGL_TEST_NO_APT !== '1' &&
    process.getuid?.() === 0 &&
    existsSync('/usr/bin/apt-get');
  if (!canInstall) {
    process.stderr.write(
      `\n[tests] Debian packages the tests need are ${missing}. Install them with ` +
        `\`sudo bash tools/system-packages/system-packages.sh install\`; until then the tests that need them fail, naming the package.\n\n`,
    );
    return;
  }
  process.stderr.write(
    `\n[tests] ${missing}: installing them with apt-get (tools/system-packages/system-packages.sh)…\n`,
  );
  const install = spawnSync('bash', [SCRIPT, 'install'], { stdio: 'inherit' });
  if (install.status !== 0)
    process.stderr.write(
      `[tests] apt-get failed (exit ${install.status}); the tests that need those packages will fail.\n`,
    );
}
