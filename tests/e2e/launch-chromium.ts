import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (what `.ci/run` installs with apt); FGL_CHROMIUM names another binary. */
const systemChromium = (env: NodeJS.ProcessEnv) => env.FGL_CHROMIUM ?? '/usr/bin/chromium';

const COMMON_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * @sparticuz/chromium's flags that switch off the browser's own protections. The e2e tests check
 * the UI under a normal browser's same-origin rules and CSP, so these are left out.
 */
const WEAKENING_ARGS = new Set(['--disable-web-security', '--allow-running-insecure-content', '--disable-site-isolation-trials']);

export type BrowserChoice = { kind: 'system' | 'sparticuz'; executablePath: string; args: string[] };

/**
 * Which Chromium the e2e tests drive: Debian's when it is installed, else the one the npm
 * registry ships in @sparticuz/chromium (a devDependency), so `npm test` passes after
 * `npm install` alone. FGL_E2E_BROWSER=system|sparticuz forces one.
 */
export async function chooseBrowser(env: NodeJS.ProcessEnv = process.env): Promise<BrowserChoice> {
  const forced = env.FGL_E2E_BROWSER;
  const system = systemChromium(env);
  if (forced !== undefined && forced !== 'system' && forced !== 'sparticuz')
    throw new Error(`FGL_E2E_BROWSER=${forced} is not a choice: use "system" (Debian's /usr/bin/chromium or FGL_CHROMIUM) or "sparticuz" (@sparticuz/chromium from npm), or leave it unset to pick the first that is there.`);
  if (forced === 'system' || (forced === undefined && existsSync(system))) {
    if (!existsSync(system))
      throw new Error(`FGL_E2E_BROWSER=system but there is no Chromium at ${system}: run \`apt-get install -y chromium\`, set FGL_CHROMIUM to a Chromium binary, or unset FGL_E2E_BROWSER to use @sparticuz/chromium.`);
    return { kind: 'system', executablePath: system, args: COMMON_ARGS };
  }
  const { default: sparticuz } = await import('@sparticuz/chromium');
  // Unpacks the brotli-compressed browser into the temp folder once (a few seconds), then reuses it.
  const executablePath = await sparticuz.executablePath();
  const args = [...new Set([...sparticuz.args.filter((a) => !WEAKENING_ARGS.has(a)), ...COMMON_ARGS])];
  return { kind: 'sparticuz', executablePath, args };
}

/** The chosen Chromium, headless, driven by playwright-core. */
export async function launchChromium(): Promise<Browser> {
  const b = await chooseBrowser();
  return chromium.launch({ executablePath: b.executablePath, headless: true, args: b.args });
}
