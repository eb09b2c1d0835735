import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePackage } from '../../src/shared/embedding-package';
import { describeSiteModel } from '../../src/core/models/site-model-files';
import { buildRenderer } from './build-renderer';
import { launchChromium } from './launch-chromium';
import { BROKEN_FILE, startRealStack, type RealStack } from './real-stack';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shots = join(repoRoot, 'test-artifacts', 'screenshots');
const CLASSES = 4;
const PER_CLASS = 12;
const USABLE = CLASSES * PER_CLASS;

let stack: RealStack | undefined;
let browser: Browser | undefined;
let page: Page;
const consoleErrors: string[] = [];

/** Facts the steps hand to later steps (they run in order, like the person at the screen). */
const run = { id: '', sha256: '', bytes: 0, approver: 'Dr. A. Lindqvist' };

const s = () => stack!;
/** Mouse parked off every control first: a hovered button would not show what a reader sees. */
const shot = async (name: string) => {
  await page.mouse.move(1270, 850);
  await page.screenshot({ path: join(shots, `real-${name}.png`), fullPage: true });
};
const nav = (label: string) =>
  page
    .getByRole('navigation', { name: 'Sections' })
    .getByRole('button', { name: label, exact: true })
    .click();
const heading = () => page.getByRole('heading', { level: 1 }).textContent();
const text = async (testId: string) => (await page.getByTestId(testId).textContent())?.trim();
/** The server's fingerprint as a coordinator reads it out: groups of four. */
const grouped = (fp: string) => fp.match(/.{1,4}/g)!.join(' ');

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  // Its own build folder: the UI-only walkthrough may be building into the default one in parallel.
  const [rendererDir, b] = await Promise.all([
    buildRenderer(join(repoRoot, '.fgl-tmp', 'e2e-renderer-real')),
    launchChromium(),
  ]);
  browser = b;
  stack = await startRealStack({ rendererDir, classes: CLASSES, perClass: PER_CLASS });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(15_000);
  page.on('console', (m) => {
    // Chromium notes that frame-ancestors is ignored in a <meta> CSP; the agent sends it as a header too.
    if (m.type() === 'error' && !m.text().includes("'frame-ancestors' is ignored"))
      consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  // Every progress bar the UI ever shows, with its line: a fast run may be over before we look.
  await page.addInitScript(`
    window.__progressSeen = [];
    new MutationObserver(() => {
      for (const p of document.querySelectorAll('progress[aria-label]')) {
        const line = p.parentElement?.querySelector('.progress-line')?.textContent ?? '(starting)';
        const entry = p.getAttribute('aria-label') + ' | ' + line;
        if (!window.__progressSeen.includes(entry)) window.__progressSeen.push(entry);
      }
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  `);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

const progressSeen = (label: string): Promise<string[]> =>
  page.evaluate(
    `window.__progressSeen.filter((e) => e.startsWith(${JSON.stringify(label + ' | ')}))`,
  );

// The real thing end to end: real site handlers (tiny models), real server on loopback, Chromium.
describe('site UI in Chromium against the real site backend and a real server (tiny models)', () => {
  it('Connect: enrolls with the coordinator’s token and shows the server key fingerprint in fours', async () => {
    await page.goto(s().agent.url);
    await page.getByRole('heading', { level: 1, name: 'Connect to a study server' }).waitFor();
    await page.getByText('Tiny test models in use.').first().waitFor();

    await page.getByLabel('Server URL').fill(s().serverUrl);
    await page.getByLabel('Enrollment token').fill(s().token);
    // The fingerprint as the coordinator reads it over the phone.
    await page.getByLabel(/fingerprint from your coordinator/i).fill(grouped(s().fingerprint));
    await page.getByRole('button', { name: 'Connect and enroll' }).click();
    await page.getByTestId('fingerprint').waitFor();
    expect(await text('fingerprint')).toBe(grouped(s().fingerprint));
    await page.getByText('✓ Matches the fingerprint you entered.').waitFor();

    const enrollment = s().site.ledger.enrollments.list();
    expect(enrollment).toHaveLength(1);
    expect(enrollment[0]!.serverKeyFingerprint).toBe(s().fingerprint);
    const result = await page.getByTestId('enroll-result').textContent();
    expect(result).toContain(enrollment[0]!.siteId);
    expect(result).toContain(s().study.id);
    await shot('01-connect');
  });

  it('Datasets: a typed folder path is scanned; per-class counts and the skipped file with its reason', async () => {
    await page.getByRole('button', { name: 'Next: choose a dataset' }).click();
    expect(await heading()).toBe('Datasets');
    // The agent has no native picker: asking for one turns the picker into a path field.
    await page.getByRole('button', { name: 'Choose folder…' }).click();
    await page.getByLabel('Folder path').fill(s().dataDir);
    await page.getByLabel(/Minimum images per class/).fill(String(s().study.privacy.k));
    await page.getByRole('button', { name: 'Scan folder' }).click();
    await page.getByTestId('scan-summary').waitFor();

    expect(await text('scan-images')).toBe(String(USABLE));
    const table = page.getByRole('table', { name: 'Usable images per class' });
    expect(await table.locator('tbody tr').count()).toBe(CLASSES);
    for (const c of s().classes) {
      const row = table
        .locator('tbody tr')
        .filter({ has: page.getByRole('rowheader', { name: c, exact: true }) });
      expect(await row.locator('td.num').textContent()).toBe(String(PER_CLASS));
    }
    expect(await page.locator('.warn-row').count()).toBe(0);
    const skipped = page.locator('details.skipped-group');
    expect(await skipped.locator('summary').allTextContents()).toEqual(['empty (1)']);
    await skipped.locator('summary').click();
    const item = await skipped.locator('li').textContent();
    expect(item).toContain(`${s().brokenClass}/${BROKEN_FILE}`);
    expect(item).toContain('0 bytes');
    await shot('02-datasets');
  });

  it('Prepare: study, vocabulary prompts, clusters of k ≥ 3; progress is shown until the package is ready', async () => {
    await page.getByRole('button', { name: 'Next: prepare a package' }).click();
    expect(await heading()).toBe('Prepare a package');
    const studySelect = page.getByLabel('Study', { exact: true });
    await expect.poll(() => studySelect.isEnabled()).toBe(true);
    await studySelect.selectOption(s().study.id);
    expect(await page.getByLabel('Image folder').inputValue()).toBe(s().dataDir);
    expect(await page.getByLabel(/^k — minimum/).inputValue()).toBe('3');
    await page.getByRole('radio', { name: /Vocabulary/ }).check();
    await page.getByLabel('Aggregation').selectOption('cluster');
    await page.getByLabel(/^k — minimum/).fill('3');

    await page.getByRole('button', { name: 'Prepare package' }).click();
    const runHeading = page.getByRole('heading', { level: 2, name: /^Run / });
    await runHeading.waitFor();
    run.id = (await runHeading.textContent())!.replace(/^Run /, '').trim();
    // Screenshot mid-run when a stage line is up (best effort: the assertion below does not depend on it).
    const line = page.locator('.progress-line');
    const ready = page.getByText('✓ Package prepared. Nothing has been sent yet.');
    await Promise.race([line.waitFor({ timeout: 60_000 }), ready.waitFor({ timeout: 60_000 })]);
    if (await line.isVisible()) await shot('03-prepare-progress');
    await ready.waitFor({ timeout: 90_000 });

    const seen = await progressSeen('Preparation progress');
    // A real stage line from the backend: "<stage> · done of total (…%) · rate · ETA".
    expect(
      seen.some((e) => / · \d+ of \d+ \(\d+%\)/.test(e)),
      seen.join('\n'),
    ).toBe(true);
    await shot('03-prepare-done');
  }, 120_000);

  it('Preview: every row of the package with its checks; sizes match the file on disk', async () => {
    await page.getByRole('button', { name: 'Review what will leave this computer' }).click();
    expect(await heading()).toBe('What will leave this computer');
    await page.getByTestId('preview-facts').waitFor();

    const dir = join(s().siteHome, 'packages', run.id);
    const report = JSON.parse(await readFile(join(dir, 'privacy-report.json'), 'utf8')) as {
      outgoing: { rows: number; bytes: number; sha256: string };
      rows: { index: number; blocked: boolean; checks: { name: string; passed: boolean }[] }[];
      settings: { promptMode: string; aggregation: string; k: number };
    };
    const bytes = new Uint8Array(await readFile(join(dir, 'package.safetensors')));
    const pkg = decodePackage(bytes);
    run.sha256 = createHash('sha256').update(bytes).digest('hex');
    run.bytes = (await stat(join(dir, 'package.safetensors'))).size;
    expect(report.settings).toMatchObject({
      promptMode: 'vocabulary',
      aggregation: 'cluster',
      k: 3,
    });
    expect(report.outgoing.sha256).toBe(run.sha256);
    expect(pkg.n).toBe(report.outgoing.rows);
    expect(pkg.n).toBeGreaterThan(0);

    const blocked = report.rows.filter((r) => r.blocked);
    expect(await text('rows-sent')).toBe(String(pkg.n));
    expect(await text('rows-blocked')).toBe(String(blocked.length));
    expect(await text('bytes')).toContain(`(${run.bytes.toLocaleString('en')} bytes)`);
    const rows = page.getByTestId('outgoing-row');
    expect(await rows.count()).toBe(report.rows.length);
    expect(report.rows.length).toBe(pkg.n + blocked.length);
    // Every blocked row says it is not sent and names the check that stopped it.
    for (const r of report.rows) {
      const t = await rows.nth(r.index).textContent();
      if (r.blocked) {
        expect(t).toContain('Blocked — not sent');
        for (const c of r.checks.filter((x) => !x.passed)) expect(t).toContain(c.name);
      } else expect(t).toContain('Will be sent');
    }
    // The images represented by sent rows: the labels/counts tensors of the package itself.
    expect(pkg.counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(USABLE);
    const plot = page.getByRole('img', { name: /Outgoing rows and local images/ });
    expect(await plot.locator('circle.local-point').count()).toBe(USABLE);
    expect(await plot.locator('rect.outgoing-point').count()).toBe(pkg.n);
    expect(await plot.locator('path.blocked-point').count()).toBe(blocked.length);
    // Local thumbnails, made by the real backend from the real files.
    const thumbs = page.locator('.thumbs img');
    await expect.poll(() => thumbs.count()).toBe(12);
    await expect
      .poll(() =>
        thumbs.evaluateAll((imgs) =>
          imgs.every((i) => (i as unknown as { naturalWidth: number }).naturalWidth === 96),
        ),
      )
      .toBe(true);
    expect(await page.getByRole('document', { name: 'Privacy report' }).textContent()).toContain(run.sha256);
    await shot('04-preview');
  });

  it('a reload forgets the page, not the package: it is listed as prepared and opens again (issue #15 item 2)', async () => {
    await page.reload();
    await page.getByRole('heading', { level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: 'Approve & upload', exact: true }).click();
    const row = page.getByTestId('package-row');
    await row.first().waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.getByTestId('package-state').textContent()).toBe('prepared — not approved');
    expect(await row.textContent()).toContain(run.sha256.slice(0, 8));
    await shot('04a-packages-after-reload');
    await row.getByRole('button', { name: /^Open package/ }).click();
    expect(await heading()).toBe('What will leave this computer');
    await page.getByTestId('preview-facts').waitFor();
    expect(await text('bytes')).toContain(`(${run.bytes.toLocaleString('en')} bytes)`);
  });

  it('Approve & upload: the named approval uploads exactly this package, and the audit entry says so', async () => {
    await page.getByRole('button', { name: 'Next: approve and upload' }).click();
    expect(await heading()).toBe('Approve & upload');
    expect(await s().packages()).toEqual({ packages: [] });
    const upload = page.getByRole('button', { name: 'Approve and upload' });
    await page.getByLabel('Your name (approver)').fill(run.approver);
    expect(await upload.isDisabled()).toBe(true);
    await page
      .getByRole('checkbox', { name: /I have reviewed what will leave this computer/ })
      .check();
    await upload.click();
    const entry = page.getByTestId('audit-result');
    await entry.waitFor({ timeout: 30_000 });
    const t = await entry.textContent();
    expect(t).toContain(run.sha256);
    expect(t).toContain(run.approver);
    expect(t).toContain(s().serverUrl);
    expect(t).toContain(`(${run.bytes.toLocaleString('en')} bytes)`);

    const stored = (await s().packages()).packages;
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ sha256: run.sha256, bytes: run.bytes });
    await expect.poll(() => page.getByTestId('package-state').first().textContent()).toBe('uploaded');
    await shot('05-approve');
  });

  it('the coordinator runs the round: synthesis and training publish model v1', async () => {
    const round = await s().runRound(90_000);
    expect(round.error).toBeNull();
    expect(round.state).toBe('published');
    expect(round.modelVersion).toBe(1);
    expect(round.packages).toBe(1);
  }, 100_000);

  it('Models: pulling the latest version verifies its signature against the pinned key', async () => {
    await nav('Models');
    expect(await heading()).toBe('Models');
    const table = page.getByTestId('models-table');
    await table.waitFor();
    expect(await table.getByRole('row', { name: /v1/ }).textContent()).toContain('not downloaded');
    await page.getByRole('button', { name: 'Download latest version' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /^Version 1: signature by the pinned key verified; every file checked by sha256/ })
      .waitFor({ timeout: 30_000 });
    await table.getByRole('row', { name: /v1/ }).getByText('✓ signature verified').waitFor();
    const local = s().site.ledger.models.byVersion(s().study.id, 1);
    expect(local?.verified).toBe('verified');
    await shot('06-models');
  });

  it('Models: the site gets the models it runs (encoder, CLIP, captioner) from the study server, each checked against the study (issue #15 item 11)', async () => {
    expect(await heading()).toBe('Models');
    await page.getByRole('button', { name: 'Get models from the study server' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: new RegExp(`^3 models verified against study ${s().study.id} \\([\\d.]+ [KM]iB downloaded\\)\\.$`) })
      .waitFor({ timeout: 60_000 });
    const table = page.getByTestId('site-models-table');
    for (const role of ['encoder', 'clip', 'captioner'])
      expect(await table.getByRole('row', { name: new RegExp(`^${role}`) }).textContent()).toContain('downloaded, every file checked by sha256');
    // The progress bar was on screen while the bytes came.
    expect((await progressSeen('Site models progress')).length).toBeGreaterThan(0);
    // Installed where the button says, and byte for byte what the study pins.
    const dir = join(s().siteHome, 'models', 'studies', s().study.id);
    await page.getByRole('heading', { name: `Installed in ${dir}` }).waitFor();
    expect((await describeSiteModel(join(dir, 'encoder'), 'encoder')).sha256).toBe(s().study.encoder.sha256);
    expect((await describeSiteModel(join(dir, 'clip'), 'clip')).sha256).toBe(s().study.clip.sha256);
    await page.getByRole('button', { name: 'Use these models for preparing packages' }).waitFor();
    await shot('06b-site-models');
  });

  it('Evaluate: offline on the same folder, every usable image counted; metric cards and the tiny-model banner', async () => {
    await nav('Evaluate');
    expect(await heading()).toBe('Evaluate a model');
    const version = page.getByLabel('Model version');
    await expect.poll(() => version.inputValue()).toBe('1');
    expect(await page.getByLabel('Labelled image folder').inputValue()).toBe(s().dataDir);
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    const metrics = page.getByTestId('metrics');
    await metrics.waitFor({ timeout: 60_000 });
    await page.getByRole('heading', { name: `Model v1 on ${USABLE} local images` }).waitFor();
    for (const name of ['Accuracy', 'Balanced accuracy']) {
      const v = await metrics
        .getByRole('group', { name, exact: true })
        .locator('.metric-value')
        .textContent();
      const pct = Number(v!.replace('%', ''));
      expect(pct, `${name} ${v}`).toBeGreaterThanOrEqual(0);
      expect(pct, `${name} ${v}`).toBeLessThanOrEqual(100);
    }
    for (const name of ['Macro F1', 'ECE']) {
      const v = Number(
        await metrics
          .getByRole('group', { name, exact: true })
          .locator('.metric-value')
          .textContent(),
      );
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(await metrics.getByRole('group', { name: 'Chance level' }).textContent()).toContain(
      '25.0%',
    );
    // The confusion matrix accounts for every usable image exactly once.
    const cells = await page
      .getByRole('table', { name: /Confusion matrix/ })
      .locator('tbody td')
      .allTextContents();
    expect(cells).toHaveLength(CLASSES * CLASSES);
    expect(cells.reduce((a, c) => a + Number(c), 0)).toBe(USABLE);
    await expect
      .poll(() => page.getByText('Tiny test models in use.').first().isVisible())
      .toBe(true);
    await shot('07-evaluate');
  }, 90_000);

  it('Evaluate: folders are mapped to classes by the one class-name rule, the folders found are listed, and a folder left out is not evaluated (issue #15 item 4)', async () => {
    const copy = join(s().work, 'renamed-folders');
    const [first, second, third] = s().classes as [string, string, string];
    const renamed = first.toUpperCase().replace(/ /g, '_');
    for (const c of s().classes) await cp(join(s().dataDir, c), join(copy, c === first ? renamed : c), { recursive: true });
    await cp(join(s().dataDir, third), join(copy, 'Unsorted'), { recursive: true });
    await nav('Evaluate');
    await page.getByLabel('Labelled image folder').fill(copy);
    await page.getByRole('button', { name: 'Find the classes in this folder' }).click();
    const mapping = page.getByTestId('class-mapping');
    await mapping.waitFor();
    expect(await mapping.textContent()).toContain(`Found ${CLASSES + 1} folders in ${copy}`);
    // `RED_CIRCLE` is the class `red circle`; `Unsorted` names no class and is left out.
    expect(await page.getByLabel(`Class for folder ${renamed}`).inputValue()).toBe(first);
    expect(await page.getByLabel('Class for folder Unsorted').inputValue()).toBe('');
    await page.getByLabel(`Class for folder ${second}`).selectOption('');
    await shot('07b-evaluate-class-mapping');
    await page.getByRole('main').getByRole('button', { name: 'Evaluate', exact: true }).click();
    await page.getByRole('heading', { name: `Model v1 on ${(CLASSES - 1) * PER_CLASS} local images` }).waitFor({ timeout: 60_000 });
  }, 90_000);

  it('Audit log: the one upload, with approver and hash; Settings: the pinned fingerprint', async () => {
    await nav('Audit log');
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    const t = await rows.textContent();
    expect(t).toContain(run.approver);
    expect(t).toContain(s().study.id);
    expect(t).toContain(s().serverUrl);
    expect(await rows.locator('code').getAttribute('title')).toBe(run.sha256);
    await shot('08-audit');

    await nav('Settings');
    const facts = page.locator('.facts').filter({ hasText: 'Pinned server key' });
    await facts.waitFor();
    expect(await facts.locator('dd.fingerprint').textContent()).toBe(grouped(s().fingerprint));
    expect(await facts.textContent()).toContain(s().serverUrl);
    expect(await facts.textContent()).toContain('tiny test models');
    await shot('09-settings');
    expect(consoleErrors).toEqual([]);
  });
});
