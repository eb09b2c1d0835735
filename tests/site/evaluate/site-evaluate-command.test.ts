import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CommandContext, type Output, UsageError, parseArgsOptions } from '../../../src/cli/command';
import { siteEvaluateCommand } from '../../../src/cli/commands/site-evaluate';
import { makeSampleData } from '../../../src/cli/sample-data/make-sample-data';
import { loadClip } from '../../../src/core/inference/clip-model';
import { modelDigest } from '../../../src/core/models/model-digest';
import { Ledger } from '../../../src/site/ledger/ledger';
import { sitePaths } from '../../../src/site/site-home';
import { getTinyModels } from '../../helpers/tiny-models';
import { embedFiles, listImages, makeServerKey, trainTinyProbe, writeSignedModel } from './evaluate-fixture';

const CLASSES = ['red circle', 'blue square'];
const tmp = await mkdtemp(join(tmpdir(), 'fgl-evaluate-cli-'));
const home = join(tmp, 'home');
const server = makeServerKey();
let modelsRoot: string;
let modelDir: string;
let dataDir: string;

/** Runs the command the way src/cli/main.ts does, capturing what it prints. */
async function run(args: string[]) {
  const parsed = parseArgs({ args, options: parseArgsOptions(siteEvaluateCommand), allowPositionals: true, strict: true });
  const json = Boolean(parsed.values.json);
  const printed: { data?: unknown; human?: string; info: string[]; warn: string[] } = { info: [], warn: [] };
  const out: Output = {
    json,
    tty: false,
    result(data, human) {
      printed.data = data;
      if (!json) printed.human = human();
    },
    info: (l) => void printed.info.push(l),
    warn: (l) => void printed.warn.push(l),
  };
  const ctx: CommandContext = { values: parsed.values as CommandContext['values'], positionals: parsed.positionals, out, signal: new AbortController().signal };
  const code = (await siteEvaluateCommand.run(ctx)) ?? 0;
  return { code, ...printed };
}

type JsonResult = { evaluationId: number; version: number; metrics: { samples: number; accuracy: number }; reportPaths: Record<string, string>; compare?: { markdown: string; path: string } };

beforeAll(async () => {
  process.env.FGL_HOME = home;
  const tiny = await getTinyModels();
  modelsRoot = tiny.root;
  const clip = await loadClip(tiny.dirs.clip, { device: 'cpu' });
  try {
    const train = await makeSampleData(join(tmp, 'train'), { classes: 2, perClass: 12, seed: 3, size: 64 });
    const files = await listImages(train.dir);
    const model = await trainTinyProbe(
      await embedFiles(
        clip,
        files.map((f) => f.path),
      ),
      files.map((f) => CLASSES.indexOf(f.label)),
      CLASSES,
      0,
      30,
    );
    modelDir = join(tmp, 'downloads', 'v1');
    await writeSignedModel(modelDir, model, server.privateKey, {
      studyId: 'shapes',
      version: 1,
      classes: CLASSES,
      kind: 'probe',
      preprocessing: { input: 'clip-image-embeds', normalize: true },
      backbone: { id: 'fgl-tiny/clip', revision: 'main', sha256: await modelDigest(tiny.dirs.clip, 'clip') },
    });
    model.dispose();
  } finally {
    await clip.dispose();
  }
  dataDir = (await makeSampleData(join(tmp, 'site-data'), { classes: 2, perClass: 6, seed: 4, size: 64 })).dir;
});

afterAll(async () => {
  delete process.env.FGL_HOME;
  await rm(tmp, { recursive: true, force: true });
});

const base = () => ['--data', dataDir, '--models', modelsRoot, '--device', 'cpu'];

describe('fgl site evaluate', () => {
  it('is registered under `site evaluate`', () => {
    expect(siteEvaluateCommand.path).toEqual(['site', 'evaluate']);
  });

  it('refuses a model folder when no server key is pinned for its study', async () => {
    const e = await run([...base(), '--model', modelDir]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).message).toMatch(/no server key is pinned for study shapes/);
    expect((e as UsageError).hint).toMatch(/fgl site enroll.*--trust-key FILE\.pem --trust-fingerprint HEX/);
  });

  let firstId = 0;
  it('evaluates a model folder with an explicit key and fingerprint (--json: metrics and report paths)', async () => {
    const keyFile = join(tmp, 'server.pem');
    await writeFile(keyFile, server.publicKeyPem);
    const out = join(tmp, 'out-1');
    const r = await run([...base(), '--model', modelDir, '--trust-key', keyFile, '--trust-fingerprint', server.fingerprint, '--out', out, '--json']);
    const data = r.data as JsonResult;
    expect(data.version).toBe(1);
    expect(data.metrics.samples).toBe(12);
    expect(data.reportPaths.json).toBe(join(out, 'evaluation.json'));
    for (const p of Object.values(data.reportPaths)) expect((await stat(p)).size).toBeGreaterThan(0);
    expect(r.human).toBeUndefined();
    firstId = data.evaluationId;
  });

  it('uses the key pinned at enrollment, prints a metric table, and writes under $FGL_HOME/reports by default', async () => {
    const ledger = Ledger.open(sitePaths(home).ledger);
    ledger.enrollments.upsert({ serverUrl: 'https://fgl.example', studyId: 'shapes', siteId: 'site-a', apiKey: new Uint8Array([1]), serverPublicKey: server.publicKeyPem, serverKeyFingerprint: server.fingerprint });
    ledger.close();
    const r = await run([...base(), '--model', modelDir]);
    expect(r.human).toMatch(/Model v1 of study shapes \(probe\) on site-data: 12 images evaluated offline/);
    expect(r.human).toMatch(/accuracy\s+\d+\.\d%/);
    expect(r.human).toMatch(/red circle\s+6\s/);
    expect(r.human).toContain(join(home, 'reports', 'evaluations'));
    expect(r.warn.join('\n')).toMatch(/tiny test models/);
  });

  it('evaluates a version held in the ledger and compares with an earlier evaluation', async () => {
    const r = await run([...base(), '--model', '1', '--study', 'shapes', '--compare', String(firstId), '--out', join(tmp, 'out-3'), '--json']);
    const data = r.data as JsonResult;
    expect(data.evaluationId).toBeGreaterThan(firstId);
    expect(data.compare!.markdown).toContain('# Model v1 vs v1');
    expect(data.compare!.markdown).toContain(`Evaluations ${firstId} (`);
    expect(await readFile(data.compare!.path, 'utf8')).toBe(data.compare!.markdown);
  });

  it('says which versions it holds when asked for one it does not', async () => {
    const e = await run([...base(), '--model', '7', '--study', 'shapes']).catch((x: unknown) => x);
    expect((e as UsageError).message).toMatch(/version 7 of study shapes is not in the site ledger/);
    expect((e as UsageError).hint).toMatch(/shapes v1/);
  });
});
