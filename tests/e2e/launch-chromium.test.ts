import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chooseBrowser } from './launch-chromium';

describe('the e2e tests’ browser', () => {
  it('falls back to @sparticuz/chromium from npm, which really runs a page, without its protection-weakening flags', async () => {
    const b = await chooseBrowser({ FGL_E2E_BROWSER: 'sparticuz' });
    expect(b.kind).toBe('sparticuz');
    expect(existsSync(b.executablePath)).toBe(true);
    expect(b.args).not.toContain('--disable-web-security');
    expect(b.args).not.toContain('--allow-running-insecure-content');
    const browser = await chromium.launch({ executablePath: b.executablePath, headless: true, args: b.args });
    try {
      const page = await browser.newPage();
      await page.setContent('<h1>fgl</h1>');
      expect(await page.textContent('h1')).toBe('fgl');
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('prefers the system Chromium when it is there (FGL_CHROMIUM names it)', async () => {
    const { executablePath } = await chooseBrowser({ FGL_E2E_BROWSER: 'sparticuz' });
    expect(await chooseBrowser({ FGL_CHROMIUM: executablePath })).toMatchObject({ kind: 'system', executablePath });
  });

  it('uses the npm browser when no system Chromium is installed', async () => {
    expect(await chooseBrowser({ FGL_CHROMIUM: join(tmpdir(), 'no-such-chromium') })).toMatchObject({ kind: 'sparticuz' });
  });

  it('says what to do when a forced choice cannot be met or is misspelt', async () => {
    await expect(chooseBrowser({ FGL_E2E_BROWSER: 'system', FGL_CHROMIUM: join(tmpdir(), 'no-such-chromium') })).rejects.toThrow(/apt-get install -y chromium/);
    await expect(chooseBrowser({ FGL_E2E_BROWSER: 'firefox' })).rejects.toThrow(/use "system".*or "sparticuz"/);
  });
});
