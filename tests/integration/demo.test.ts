import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type DemoResult } from '../../src/cli/demo/run-demo';
import { demoTable } from '../../src/cli/commands/demo';
import { Ledger } from '../../src/site/ledger/ledger';
import { getTinyModels } from '../helpers/tiny-models';

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

let work: string;
let result: DemoResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'fgl-demo-test-'));
  const tiny = await getTinyModels();
  result = await runDemo({ sites: 3, beta: 0.5, classes: 4, perClass: 20, seed: 3, modelsDir: tiny.root, device: 'cpu', workDir: work, say: () => {}, shareMetrics: true });
}, 300_000);
afterAll(() => rm(work, { recursive: true, force: true }));

describe('npm run demo (tiny models, in process)', () => {
  it('every site verified the signed model and evaluated it on all of its own images', async () => {
    expect(result.tinyModels).toBe(true);
    expect(result.sites).toHaveLength(3);
    for (const s of result.sites) {
      expect(s.modelVerified).toBe(true);
      const own = (await files(join(work, 'data', s.site))).filter((f) => f.endsWith('.png'));
      expect(s.images).toBe(own.length);
      expect(s.evaluatedImages).toBe(own.length);
    }
    expect(result.sites.reduce((a, s) => a + s.images, 0)).toBe(80);
    expect(result.round.modelVersion).toBe(1);
    expect(result.round.syntheticImages).toBeGreaterThan(0);
  });

  it('each site’s audit log has exactly one accepted upload, for the package the server stored', async () => {
    const stored = (await files(join(work, 'server', 'packages'))).map((f) => f.split('/').pop()!.replace('.safetensors', '')).sort();
    const uploaded: string[] = [];
    for (const s of result.sites) {
      const ledger = Ledger.open(join(work, 'sites', s.site, 'ledger.sqlite'));
      try {
        const rows = ledger.uploads.list();
        expect(rows).toHaveLength(1);
        expect(rows[0]!.status).toBe('accepted');
        expect(rows[0]!.approvers).toEqual([`${s.site} operator`]);
        uploaded.push(rows[0]!.packageSha256);
        expect(ledger.integrityCheck()).toEqual(['ok']);
      } finally {
        ledger.close();
      }
    }
    expect(stored).toEqual(uploaded.sort());
  });

  it('the server holds no site image, file name or prompt text: only the packages came in', async () => {
    const serverFiles = await files(join(work, 'server'));
    const serverBlobs = await Promise.all(serverFiles.map((f) => readFile(f)));
    const serverHashes = new Set(serverBlobs.map((b) => createHash('sha256').update(b).digest('hex')));
    const siteImages = (await files(join(work, 'data'))).filter((f) => f.endsWith('.png'));
    expect(siteImages.length).toBe(80);
    const names = siteImages.map((f) => f.split('/').pop()!.replace('.png', ''));
    for (const img of siteImages) expect(serverHashes.has(createHash('sha256').update(await readFile(img)).digest('hex'))).toBe(false);
    // Prompt text stays local (the privacy reports hold it); the package carries embeddings only.
    const prompts = new Set<string>();
    for (const s of result.sites) {
      for (const f of (await files(join(work, 'sites', s.site, 'packages'))).filter((x) => x.endsWith('privacy-report.json'))) {
        const rep = JSON.parse(await readFile(f, 'utf8')) as { rows: { prompt: string | null }[] };
        for (const r of rep.rows) if (r.prompt) prompts.add(r.prompt);
      }
    }
    expect(prompts.size).toBeGreaterThan(0);
    const needles = [...names.map((n) => Buffer.from(n)), ...[...prompts].map((p) => Buffer.from(p)), Buffer.from(join(work, 'data'))];
    for (const [i, blob] of serverBlobs.entries()) {
      for (const needle of needles) expect(blob.includes(needle), `${relative(work, serverFiles[i]!)} contains "${needle.toString()}"`).toBe(false);
    }
  });

  it('prints a table per site, stage times and the FedAvg comparison, and says tiny models mean chance level', () => {
    const table = demoTable(result);
    expect(table).toContain('tiny generated models');
    for (const s of result.sites) expect(table).toContain(s.site);
    expect(table).toMatch(/synthesizing \d+\.\d s/);
    expect(table).toContain('FedAvg round of ResNet-18');
    expect(result.bytes.fedAvgResNet18PerRound).toBe(11_689_512 * 4 * 2 * 3);
  });

  it('opt-in aggregate metrics reached the server, one report per site and nothing per image', async () => {
    const { ServerStore } = await import('../../src/server/store/server-store');
    const store = await ServerStore.open(join(work, 'server', 'server.db'));
    try {
      const evals = await store.models.listEvaluations(result.studyId);
      expect(evals.map((e) => e.siteId).sort()).toEqual(result.sites.map((s) => s.siteId).sort());
      for (const e of evals) {
        const m = e.metrics as Record<string, unknown>;
        expect(Object.keys(m).sort()).toEqual(['accuracy', 'balancedAccuracy', 'ece', 'macroAuroc', 'macroF1', 'perClass', 'samples', 'suppressedClasses']);
        // k floor: no class with fewer than the study's k (3) images is reported.
        for (const c of m.perClass as { support: number }[]) expect(c.support).toBeGreaterThanOrEqual(3);
        expect(m.samples).toBe(result.sites.find((s) => s.siteId === e.siteId)!.images);
      }
    } finally {
      store.close();
    }
  });
});
