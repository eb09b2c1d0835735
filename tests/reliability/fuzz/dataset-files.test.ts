import fc from 'fast-check';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from '../../../src/site/dataset/dataset-error';
import { parseCsv } from '../../../src/site/dataset/parse-csv';
import { scanDataset } from '../../../src/site/dataset/scan-dataset';
import { ScanResult } from '../../../src/site/dataset/scan-result';
import { encodeImage, treeFingerprint } from '../../helpers/broken-images';
import { recordFigures } from '../reliability-figures';
import { describeThrown, FUZZ_SEED, fuzzParams, hostileString, labelled } from './fuzz-support';

/*
 * Hostile files in a dataset folder: manifests (CSV and JSON) full of odd quoting, traversal paths
 * and junk, beside files with random names and contents. The CSV parser either parses or says
 * "unterminated quote"; a scan either completes or fails with a DatasetError, never reads outside
 * the manifest's folder, and never writes into the dataset.
 */

const stats = { csvInputs: 0, scans: 0, failures: 0, usable: 0, skipped: 0, datasetErrors: 0 };
let base: string;
let outside: string;
let png: Buffer;

const csvText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          '"',
          '""',
          ',',
          ';',
          '\t',
          '\n',
          '\r\n',
          '\r',
          'path',
          'label',
          'a.png',
          ' ',
          '\u0000',
          '\ufeff',
        ),
        hostileString.map((s) => s.slice(0, 50)),
      ),
      { maxLength: 60 },
    )
    .map((parts) => parts.join('')),
);

const manifestRow = fc.tuple(
  fc.oneof(
    fc.constantFrom(
      'img.png',
      './img.png',
      'sub/../img.png',
      '../outside/secret.png',
      '../../etc/passwd',
      '/etc/passwd',
      'img.png\u0000.txt',
      'IMG.PNG',
      'missing.png',
      'fifo',
      'link-out.png',
      'sub',
      '',
    ),
    hostileString.map((s) => s.slice(0, 80)),
  ),
  fc.oneof(
    fc.constantFrom('cat', 'dog', '', ' cat ', 'caf\u00e9', 'cafe\u0301'),
    hostileString.map((s) => s.slice(0, 40)),
  ),
);

const quoteCsv = (s: string) => `"${s.replace(/"/g, '""')}"`;

const folderCase = fc.record({
  rows: fc.array(manifestRow, { maxLength: 12 }),
  json: fc.boolean(),
  junkFiles: fc.array(
    fc.tuple(
      fc.stringMatching(/^[a-zA-Z0-9 ._\u00e9\u4e2d-]{1,20}$/),
      fc.uint8Array({ maxLength: 600 }),
    ),
    { maxLength: 5 },
  ),
  rawManifest: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: csvText },
  ),
});

describe('fuzz: hostile files in a dataset folder', () => {
  beforeAll(async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'fgl-fuzz-dataset-'));
    outside = path.join(base, 'outside');
    await mkdir(outside);
    png = await encodeImage('png', 12, 10);
    await writeFile(path.join(outside, 'secret.png'), png);
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
    recordFigures('fuzz', 'dataset manifests and files', {
      inputs: stats.csvInputs + stats.scans,
      failures: stats.failures,
      seed: FUZZ_SEED,
      csvTexts: stats.csvInputs,
      scannedFolders: stats.scans,
      usable: stats.usable,
      skipped: stats.skipped,
      datasetErrors: stats.datasetErrors,
    });
  });

  it('parses any CSV text or reports an unterminated quote', () => {
    fc.assert(
      fc.property(csvText, (text) => {
        stats.csvInputs++;
        try {
          const records = parseCsv(text);
          for (const r of records) {
            expect(r.line).toBeGreaterThanOrEqual(1);
            expect(r.cells.length).toBeGreaterThanOrEqual(1);
          }
        } catch (e) {
          if (
            !(e instanceof Error) ||
            !/^unterminated quote starting on line \d+$/.test(e.message)
          ) {
            stats.failures++;
            throw new Error(`parseCsv threw ${describeThrown(e)}`);
          }
        }
      }),
      fuzzParams(2000),
    );
  });

  it('scans hostile manifest folders without leaving the folder or writing to it', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        folderCase.map((c) =>
          labelled(c, (v) => `${JSON.stringify(v).slice(0, 400)} (FGL_FUZZ_SEED=${FUZZ_SEED})`),
        ),
        async (c) => {
          stats.scans++;
          const root = path.join(base, `ds${n++}`);
          await mkdir(path.join(root, 'sub'), { recursive: true });
          await writeFile(path.join(root, 'img.png'), png);
          await writeFile(path.join(root, 'sub', 'img.png'), png);
          await symlink(path.join(outside, 'secret.png'), path.join(root, 'link-out.png'));
          for (const [name, bytes] of c.junkFiles)
            await writeFile(path.join(root, `junk-${name}`), bytes).catch(() => undefined);
          const manifestName = c.json ? 'manifest.json' : 'manifest.csv';
          const text =
            c.rawManifest ??
            (c.json
              ? JSON.stringify(c.rows.map(([p, label]) => ({ path: p, label })))
              : [
                  'path,label',
                  ...c.rows.map(([p, label]) => `${quoteCsv(p)},${quoteCsv(label)}`),
                ].join('\n'));
          await writeFile(path.join(root, manifestName), text);
          const before = await treeFingerprint(root);
          try {
            const result = await scanDataset(root, { manifest: manifestName, concurrency: 2 });
            expect(ScanResult.safeParse(result).success).toBe(true);
            stats.usable += result.usable.length;
            stats.skipped += result.skipped.length;
            for (const img of result.usable) {
              // Usable paths are relative, inside the folder; the symlink inside is followed on purpose.
              expect(path.isAbsolute(img.path)).toBe(false);
              expect(img.path.split('/')).not.toContain('..');
            }
          } catch (e) {
            if (!(e instanceof DatasetError)) {
              stats.failures++;
              throw new Error(`scanDataset threw ${describeThrown(e)}`);
            }
            stats.datasetErrors++;
          } finally {
            expect(await treeFingerprint(root)).toBe(before);
            await rm(root, { recursive: true, force: true });
          }
        },
      ),
      fuzzParams(80),
    );
  }, 120_000);
});
