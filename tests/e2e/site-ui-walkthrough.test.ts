import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSiteAgent, type SiteAgent } from '../../src/site/agent/site-agent';
import { buildRenderer } from './build-renderer';
import { launchChromium } from './launch-chromium';
import { createFixtureBackend, FIXTURE, type FixtureBackend } from './ui-fixture-handlers';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(repoRoot, 'test-artifacts', 'screenshots');

let browser: Browser;
let agent: SiteAgent;
let backend: FixtureBackend;
let page: Page;
const consoleErrors: string[] = [];
const cspViolations: string[] = [];

const shot = (name: string) =>
  page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const nav = (label: string) =>
  page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('button', { name: label, exact: true })
    .click();
const heading = () => page.getByRole('heading', { level: 1 }).textContent();
const text = async (testId: string) => (await page.getByTestId(testId).textContent())?.trim();

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  const [rendererDir, fixture, b] = await Promise.all([
    buildRenderer(),
    createFixtureBackend(),
    launchChromium(),
  ]);
  backend = fixture;
  browser = b;
  agent = await startSiteAgent({
    handlers: backend.handlers,
    rendererDir,
    host: '127.0.0.1',
    port: 0,
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(10_000);
  page.on('console', (m) => {
    // Chromium notes that frame-ancestors is ignored in a <meta> CSP; the agent sends it as a header too.
    if (m.type() === 'error' && !m.text().includes("'frame-ancestors' is ignored"))
      consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().includes('/api/'))
      consoleErrors.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  await page.exposeFunction('__cspViolation', (d: string) => cspViolations.push(d));
  // Browser-side code is passed as strings: this file is type-checked without the DOM library.
  await page.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(`${e.violatedDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));",
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.close();
});

// UI-only: the backend is a scripted, contract-checked fixture, not the real site pipeline.
describe('site UI walkthrough in Chromium (UI-only: scripted in-test handlers, not the real backend)', () => {
  it('opens with the token from the fragment, keeps it in sessionStorage only and strips it from the URL', async () => {
    await page.goto(agent.url);
    await page.getByRole('heading', { level: 1, name: 'Connect to a study server' }).waitFor();
    expect(page.url()).toBe(`${agent.origin}/`);
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem('fgl.agentSessionToken'),
      local: localStorage.length,
    }));
    expect(stored).toEqual({ session: agent.token, local: 0 });
    // The tiny-models banner is up from the start (settings.tinyModels).
    await page.getByText('Tiny test models in use.').first().waitFor();
    // A reload keeps working from sessionStorage.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Connect to a study server' }).waitFor();
  });

  it('Connect: a refused token shows message and hint; a good one shows the fingerprint in fours', async () => {
    await page.getByLabel('Server URL').fill(FIXTURE.serverUrl);
    await page.getByLabel('Enrollment token').fill('wrong-token-000');
    await page.getByRole('button', { name: 'Connect and enroll' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Enrollment failed' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('Ask the study coordinator for a new token.');

    await page.getByLabel('Enrollment token').fill(FIXTURE.enrollToken);
    // Issue #15 item 7: both fingerprint fields show a whole 64-hex fingerprint in fours without scrolling.
    for (const field of [page.getByLabel(/fingerprint from your coordinator/i), page.getByLabel(/TLS CA fingerprint/)]) {
      await field.fill(FIXTURE.fingerprint.match(/.{4}/g)!.join(' '));
      const fits = await field.evaluate((el: unknown) => {
        const box = el as { scrollWidth: number; clientWidth: number };
        return box.scrollWidth <= box.clientWidth;
      });
      expect(fits).toBe(true);
    }
    await shot('01a-connect-fingerprint-fields');
    await page.getByLabel(/TLS CA fingerprint/).fill('');
    await page
      .getByLabel(/fingerprint from your coordinator/i)
      .fill(FIXTURE.fingerprint.toUpperCase().match(/.{2}/g)!.join(':'));
    await page.getByRole('button', { name: 'Connect and enroll' }).click();
    await page.getByTestId('fingerprint').waitFor();
    expect(await text('fingerprint')).toBe(FIXTURE.fingerprint.match(/.{4}/g)!.join(' '));
    await page.getByText('✓ Matches the fingerprint you entered.').waitFor();
    expect(await page.getByTestId('enroll-result').textContent()).toContain(FIXTURE.siteId);
    await shot('01-connect');
  });

  it('Datasets: no native picker in the browser → a path field; scan errors and results are shown', async () => {
    await page.getByRole('button', { name: 'Next: choose a dataset' }).click();
    expect(await heading()).toBe('Datasets');
    await page.getByRole('button', { name: 'Choose folder…' }).click();
    const path = page.getByLabel('Folder path');
    await path.waitFor();
    await expect.poll(() => page.evaluate('document.activeElement?.id')).toBe('dataset-path');

    await path.fill(FIXTURE.missingDir);
    await page.getByRole('button', { name: 'Scan folder' }).click();
    const err = page.getByRole('alert').filter({ hasText: 'Scan failed' });
    await err.waitFor();
    expect(await err.textContent()).toContain(
      'Check the path: it is read on the machine running the site agent.',
    );

    await path.fill(FIXTURE.dataDir);
    await page.getByLabel(/Minimum images per class/).fill('5');
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByTestId('scan-summary').waitFor();
    expect(await text('scan-images')).toBe('76');
    const table = page.getByRole('table', { name: 'Usable images per class' });
    expect(await table.getByRole('row').count()).toBe(4);
    expect(await table.getByRole('row', { name: /effusion/ }).textContent()).toContain('below k');
    // Skipped files grouped by reason, largest group first.
    const groups = page.locator('details.skipped-group > summary');
    expect(await groups.allTextContents()).toEqual([
      'not an image (3)',
      'truncated (2)',
      'hidden (1)',
    ]);
    await groups.nth(1).click();
    await page.getByText('PNG ends after 1024 of 5310 bytes').waitFor();
    await shot('02-datasets');
  });

  it('Prepare: progress with stage, rate and ETA; cancel; then a run that finishes', async () => {
    await page.getByRole('button', { name: 'Next: prepare a package' }).click();
    expect(await heading()).toBe('Prepare a package');
    await page.getByLabel('Study', { exact: true }).selectOption(FIXTURE.study.id);
    expect(await page.getByLabel('Image folder').inputValue()).toBe(FIXTURE.dataDir);
    expect(await page.getByLabel(/^k — minimum/).inputValue()).toBe('5');
    // The study does not allow one row per image.
    expect(await page.locator('#prep-aggregation option[value="instance"]').isDisabled()).toBe(
      true,
    );
    await page.getByLabel('Aggregation').selectOption('cluster');
    await page.getByRole('radio', { name: /Vocabulary/ }).check();

    // Issue #15 item 3: ε takes 1, 2, 0.5 …; anything else is explained beside the field, never a silent no-op.
    await page.getByLabel('Add differential-privacy noise').check();
    const eps = page.getByLabel(/^DP ε/);
    expect(await eps.inputValue()).toBe('1');
    const startsBefore = backend.calls.filter((c) => c.method === 'prepare.start').length;
    await eps.fill('two');
    await page.getByRole('button', { name: 'Prepare package' }).click();
    const epsError = page.getByRole('alert').filter({ hasText: 'ε must be a number such as 1, 2 or 0.5 (you typed "two")' });
    await epsError.waitFor();
    expect(await eps.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate('document.activeElement.id')).toBe('prep-eps');
    await shot('03a-prepare-epsilon-explained');
    expect(backend.calls.filter((c) => c.method === 'prepare.start')).toHaveLength(startsBefore);
    await eps.fill('0.5');

    await page.getByRole('button', { name: 'Prepare package' }).click();
    const line = page.locator('.progress-line');
    await line.filter({ hasText: 'embed images' }).waitFor();
    expect(await line.textContent()).toMatch(
      /embed images · 30 of 76 \(39%\) · 13\/s · about 4 s left/,
    );
    expect(
      await page.getByRole('progressbar', { name: 'Preparation progress' }).getAttribute('value'),
    ).toBe('30');
    await shot('03-prepare-progress');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'Preparation stopped' })
      .filter({ hasText: 'Cancelled.' })
      .waitFor();
    expect(backend.calls.filter((c) => c.method === 'prepare.cancel')).toEqual([
      { method: 'prepare.cancel', req: { runId: 'run-1' } },
    ]);
    expect(backend.calls.filter((c) => c.method === 'prepare.start').at(-1)?.req).toMatchObject({ dpEpsilon: 0.5 });
    expect(await epsError.count()).toBe(0);
    await page.getByLabel('Add differential-privacy noise').uncheck();

    await page.getByRole('button', { name: 'Prepare package' }).click();
    await page.getByRole('heading', { name: 'Run run-2' }).waitFor();
    await line.filter({ hasText: 'embed images' }).waitFor();
    backend.releasePrepare();
    await page.getByText('✓ Package prepared. Nothing has been sent yet.').waitFor();
    const start = backend.calls.filter((c) => c.method === 'prepare.start').at(-1);
    expect(start?.req).toEqual({
      dataDir: FIXTURE.dataDir,
      studyId: FIXTURE.study.id,
      promptMode: 'vocabulary',
      aggregation: 'cluster',
      k: 5,
      dpEpsilon: null,
      // The folders the scan found, each used as the class of the same name.
      classMap: { normal: 'normal', pneumonia: 'pneumonia', effusion: 'effusion' },
    });
  });

  it('Preview: every outgoing row with its checks, blocked rows explained, bytes, plot, local thumbnails, report', async () => {
    await page.getByRole('button', { name: 'Review what will leave this computer' }).click();
    expect(await heading()).toBe('What will leave this computer');
    await page.getByTestId('preview-facts').waitFor();
    expect(await text('rows-sent')).toBe('3');
    expect(await text('rows-blocked')).toBe('2');
    expect(await text('bytes')).toBe('348 KiB (356,024 bytes)'); // 3 rows × 77 × 768 × 2 bytes + 24 + 1184 header
    const rows = page.getByTestId('outgoing-row');
    expect(await rows.count()).toBe(5);
    expect(await rows.nth(3).textContent()).toContain('Blocked — not sent: singling-out');
    expect(await rows.nth(4).textContent()).toContain('Blocked — not sent: k-cohort');
    expect(await rows.nth(4).textContent()).toContain('only 4 images < k=5');
    expect(await rows.nth(0).textContent()).toContain('Will be sent');
    // Scatter: 76 local points, 3 outgoing diamonds, 2 blocked crosses.
    const plot = page.getByRole('img', { name: /Outgoing rows and local images/ });
    expect(await plot.locator('circle.local-point').count()).toBe(76);
    expect(await plot.locator('rect.outgoing-point').count()).toBe(3);
    expect(await plot.locator('path.blocked-point').count()).toBe(2);
    // Thumbnails arrive as data: URLs and render (CSP img-src data:).
    const thumbs = page.locator('.thumbs img');
    await expect.poll(() => thumbs.count()).toBe(12);
    await expect
      .poll(() =>
        thumbs.evaluateAll((imgs) =>
          imgs.every(
            (i) =>
              (i as unknown as { complete: boolean; naturalWidth: number }).complete &&
              (i as unknown as { naturalWidth: number }).naturalWidth === 96,
          ),
        ),
      )
      .toBe(true);
    expect(await thumbs.first().getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    await page.locator('.thumbs button').first().focus();
    expect(await plot.locator('circle.highlight-ring').count()).toBe(1);
    // Issue #15 item 7: the report is rendered (headings, tables), not shown as raw Markdown.
    const report = page.getByRole('document', { name: 'Privacy report' });
    await report.getByRole('heading', { name: 'Privacy report — run-2' }).waitFor();
    expect(await report.locator('table').count()).toBeGreaterThan(0);
    expect(await report.textContent()).not.toMatch(/^#|\| --- \||\*\*/m);
    await shot('04-preview');
  });

  it('Approve & upload: needs a name and the explicit confirmation, then shows the audit entry', async () => {
    await page.getByRole('button', { name: 'Next: approve and upload' }).click();
    expect(await heading()).toBe('Approve & upload');
    const upload = page.getByRole('button', { name: 'Approve and upload' });
    await page.getByLabel('Your name (approver)').fill('Dr. M. Rossi');
    expect(await upload.isDisabled()).toBe(true);
    await page.getByLabel(/Second approver/).fill('P. Chen (privacy officer)');
    await page
      .getByRole('checkbox', { name: /I have reviewed what will leave this computer/ })
      .check();
    expect(await upload.isDisabled()).toBe(false);
    await upload.click();
    await page.getByTestId('audit-result').waitFor();
    const entry = await page.getByTestId('audit-result').textContent();
    expect(entry).toContain('#2');
    expect(entry).toContain('Dr. M. Rossi, P. Chen (privacy officer)');
    expect(entry).toContain(FIXTURE.serverUrl);
    expect(backend.calls.find((c) => c.method === 'upload.approve')?.req).toEqual({
      runId: 'run-2',
      approver: 'Dr. M. Rossi',
      secondApprover: 'P. Chen (privacy officer)',
      confirm: true,
    });
    await shot('05-approve');
  });

  it('Models: versions with verification status; pulling one verifies it', async () => {
    await nav('Models');
    const table = page.getByTestId('models-table');
    await table.waitFor();
    expect(await table.getByRole('row', { name: /v1/ }).textContent()).toContain(
      '✓ signature verified',
    );
    expect(await table.getByRole('row', { name: /v2/ }).textContent()).toContain('not downloaded');
    await page.getByRole('button', { name: 'Download version 2' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Version 2: signature by the pinned key verified' })
      .waitFor();
    await table.getByRole('row', { name: /v2/ }).getByText('✓ signature verified').waitFor();
    await shot('06-models');
  });

  it('Evaluate: metric cards, confusion matrix, per-class bars, calibration plot, export', async () => {
    await nav('Evaluate');
    await page.getByLabel('Model version').selectOption('2');
    // The folder scanned on Datasets: its folders, matched to the study's classes (issue #15 item 4).
    const mapping = page.getByTestId('class-mapping');
    await mapping.waitFor();
    expect(await page.getByLabel('Class for folder normal').inputValue()).toBe('normal');
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    const metrics = page.getByTestId('metrics');
    await metrics.waitFor();
    expect(
      await metrics.getByRole('group', { name: 'Accuracy', exact: true }).textContent(),
    ).toContain('68.4%'); // 52 of 76 on the diagonal
    expect(await metrics.getByRole('group', { name: 'Chance level' }).textContent()).toContain(
      '33.3%',
    );
    const cm = page.getByRole('table', { name: /Confusion matrix/ });
    expect(
      await cm
        .getByRole('row', { name: /pneumonia/ })
        .getByRole('cell')
        .allTextContents(),
    ).toEqual(['7', '20', '5']);
    expect(
      await page
        .getByRole('table', { name: /Per-class precision/ })
        .getByRole('row')
        .count(),
    ).toBe(4);
    expect(
      await page
        .getByRole('img', { name: /Calibration/ })
        .locator('circle.calibration-point')
        .count(),
    ).toBe(7);
    await page.getByRole('button', { name: 'Export reports' }).click();
    await page.getByText('/home/site/reports/eval-1.html').waitFor();
    expect(backend.calls.find((c) => c.method === 'evaluate.run')?.req).toEqual({
      studyId: FIXTURE.study.id,
      version: 2,
      dataDir: FIXTURE.dataDir,
      classMap: { effusion: 'effusion', normal: 'normal', pneumonia: 'pneumonia' },
    });
    await shot('07-evaluate');
  });

  it('Audit log: lists uploads and searches them; reachable by keyboard', async () => {
    // Keyboard: focus the Audit nav item, press Enter; focus lands on the new heading.
    await page.getByRole('button', { name: 'Audit log', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(2);
    await page.getByLabel('Search the audit log').fill('Rossi');
    await page.keyboard.press('Enter');
    await expect.poll(() => table.locator('tbody tr').count()).toBe(1);
    expect(await table.locator('tbody tr').textContent()).toContain('Dr. M. Rossi');
    await shot('08-audit');
  });

  it('Settings: shows device, models folder, offline mode and data location; saves changes', async () => {
    await nav('Settings');
    await page.getByLabel('Device for the models').waitFor();
    expect(await page.getByLabel('Device for the models').inputValue()).toBe('auto');
    expect(await page.getByRole('checkbox', { name: /Offline mode/ }).isChecked()).toBe(true);
    expect(
      await page.locator('.facts').filter({ hasText: 'Data location' }).textContent(),
    ).toContain('/home/site/.local/share/fgl');
    await page.getByLabel('Device for the models').selectOption('cpu');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('✓ Saved.').waitFor();
    expect(backend.calls.filter((c) => c.method === 'settings.update').map((c) => c.req)).toEqual([
      { device: 'cpu' },
    ]);
    await shot('09-settings');
  });

  it('Datasets → Prepare: no "Next" with 0 usable images, old results cleared under a new error, folders mapped to classes', async () => {
    await nav('Datasets');
    const path = page.getByLabel('Folder path');
    // Issue #15 item 7: a scan with 0 usable images says what to do and offers no "Next: prepare".
    await path.fill(FIXTURE.emptyDir);
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByTestId('no-usable-images').waitFor();
    expect(await page.getByTestId('no-usable-images').textContent()).toContain('Choose the folder that holds the class folders');
    expect(await page.getByRole('button', { name: 'Next: prepare a package' }).count()).toBe(0);
    await shot('02a-datasets-no-usable-images');
    // Issue #15 item 7: a new error replaces the old result instead of sitting under it.
    await path.fill(FIXTURE.missingDir);
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByRole('alert').filter({ hasText: 'Scan failed' }).waitFor();
    expect(await page.getByTestId('scan-summary').count()).toBe(0);

    // Issue #15 item 4: the Prepare screen lists the folders found and maps them to the study's classes.
    await path.fill(FIXTURE.messyDir);
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByTestId('scan-summary').waitFor();
    await page.getByRole('button', { name: 'Next: prepare a package' }).click();
    const mapping = page.getByTestId('class-mapping');
    await mapping.waitFor();
    const select = (folder: string) => page.getByLabel(`Class for folder ${folder}`);
    expect(await select('Normal').inputValue()).toBe('normal');
    expect(await select('Pneumonia_cases').inputValue()).toBe('');
    expect(await select('misc').inputValue()).toBe('');
    await select('Pneumonia_cases').selectOption('pneumonia');
    await shot('03b-prepare-class-mapping');
    await page.getByRole('button', { name: 'Prepare package' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('alert').filter({ hasText: 'Preparation stopped' }).waitFor();
    expect(backend.calls.filter((c) => c.method === 'prepare.start').at(-1)?.req).toMatchObject({
      dataDir: FIXTURE.messyDir,
      classMap: { Normal: 'normal', Pneumonia_cases: 'pneumonia', misc: null },
    });
  });

  it('DP: prepare makes a plan (no noise, no sha256, no ε), listed as a plan; approving it draws the noise and uploads the package', async () => {
    await nav('Datasets');
    await page.getByLabel('Folder path').fill(FIXTURE.dataDir);
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByTestId('scan-summary').waitFor();
    await page.getByRole('button', { name: 'Next: prepare a package' }).click();
    await page.getByLabel('Study', { exact: true }).selectOption(FIXTURE.study.id);
    await page.getByLabel('Add differential-privacy noise').check();
    await page.getByLabel(/^DP ε/).fill('1');
    await page.getByRole('button', { name: 'Prepare package' }).click();
    // The fixture numbers its runs by the prepare.start calls it has had.
    await expect.poll(() => backend.calls.filter((c) => c.method === 'prepare.start').length).toBeGreaterThan(3);
    const runId = `run-${backend.calls.filter((c) => c.method === 'prepare.start').length}`;
    await page.getByRole('heading', { name: `Run ${runId}` }).waitFor();
    backend.releasePrepare();
    await page.getByText('✓ Package prepared. Nothing has been sent yet.').waitFor();
    await page.getByRole('button', { name: 'Review what will leave this computer' }).click();
    await page.getByTestId('plan-notice').waitFor();
    expect(await text('plan-notice')).toContain('no noise drawn, no ε charged');
    expect(await text('bytes')).toBe('known once approved (the bins whose noisy count passes)');
    expect(await text('rows-sent')).toBe('5');
    expect(await page.getByTestId('outgoing-row').first().textContent()).toContain('drawn once on approval');
    await shot('04b-preview-plan');
    // The list shows it as a plan until it is approved.
    await nav('Approve & upload');
    await page.getByRole('heading', { name: 'Plan to approve' }).waitFor();
    expect(await text('plan-approval-note')).toContain('draws the differential-privacy noise once and charges ε = 1');
    const row = page.getByTestId('package-row').filter({ hasText: 'plan — no noise drawn' });
    expect(await row.count()).toBe(1);
    await page.getByLabel('Your name (approver)').fill('Dr. M. Rossi');
    await page.getByLabel(/Second approver/).fill('P. Chen (privacy officer)');
    await page.getByRole('checkbox', { name: /I have reviewed the plan and approve drawing its noise \(ε = 1\)/ }).check();
    await page.getByRole('button', { name: 'Approve and upload' }).click();
    await page.getByTestId('audit-result').waitFor();
    expect(backend.calls.filter((c) => c.method === 'upload.approve').at(-1)?.req).toEqual({ runId, approver: 'Dr. M. Rossi', secondApprover: 'P. Chen (privacy officer)', confirm: true });
    await expect.poll(() => page.getByTestId('package-row').filter({ hasText: 'plan — no noise drawn' }).count()).toBe(0);
    // The card now shows the package the approval drew, with the hash the audit entry holds.
    await page.getByRole('heading', { name: 'Package sent' }).waitFor();
    await expect.poll(() => page.locator('[aria-labelledby="pkg-h"] code').getAttribute('title')).toBe(createHash('sha256').update(runId).digest('hex'));
    await shot('05b-plan-approved');
  });

  it('shows a banner when the backend crashes and when it restarts', async () => {
    agent.emit({
      type: 'backend',
      state: 'crashed',
      message: 'The site backend stopped unexpectedly (exit code 134); restarting it.',
    });
    await page.getByRole('alert').filter({ hasText: 'The site backend stopped.' }).waitFor();
    await shot('10-backend-crashed');
    agent.emit({ type: 'backend', state: 'restarted', message: 'The site backend was restarted.' });
    await page.getByRole('alert').filter({ hasText: 'The site backend was restarted.' }).waitFor();
    expect(
      await page.getByRole('alert').filter({ hasText: 'The site backend stopped.' }).count(),
    ).toBe(0);
  });

  it('every control on every screen has an accessible name, and nothing broke the CSP', async () => {
    for (const label of [
      'Connect',
      'Datasets',
      'Prepare',
      'Preview',
      'Approve & upload',
      'Models',
      'Evaluate',
      'Audit log',
      'Settings',
    ]) {
      await nav(label);
      await page.getByRole('heading', { level: 1 }).waitFor();
      const unnamed =
        await page.evaluate(`[...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => !((el.labels && el.labels.length > 0) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim())))
        .map((el) => el.outerHTML.slice(0, 120))`);
      expect(unnamed, label).toEqual([]);
    }
    expect(cspViolations).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
