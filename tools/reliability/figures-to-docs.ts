/**
 * Turns the reliability suite's figures (test-artifacts/reliability/figures.jsonl, written by
 * tests/reliability/reliability-figures.ts) into the tables of docs/reliability.md: the latest
 * record per (area, name) goes between `<!-- figures:<area>:start -->` and `<!-- figures:<area>:end -->`.
 *
 *   npm run test:reliability && npx tsx tools/reliability/figures-to-docs.ts
 *   npx tsx tools/reliability/figures-to-docs.ts --check   # exit 1 if the doc is out of date
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  figuresFile,
  latestFigures,
  readFigures,
  type ReliabilityArea,
  type ReliabilityRecord,
} from '../../tests/reliability/reliability-figures';

const AREAS: ReliabilityArea[] = ['fuzz', 'faults', 'load', 'access', 'transport', 'attack'];
const DOC = path.resolve(import.meta.dirname, '..', '..', 'docs', 'reliability.md');

function cell(v: unknown): string {
  return String(v).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Figures shown as their own columns (when any record of the area has them); the rest go in "details". */
const MAIN_KEYS = ['inputs', 'failures', 'faults', 'requests', 'errors'];

/** One table per area: a row per record; main counts as columns, every other figure as `key: value`. */
export function renderArea(records: readonly ReliabilityRecord[]): string {
  if (records.length === 0)
    return '_No figures recorded yet: run `npm run test:reliability`, then this script._';
  const keys = MAIN_KEYS.filter((k) => records.some((r) => k in r.figures));
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    row(['what', ...keys, 'details', 'recorded']),
    row(['---', ...keys.map(() => '---:'), '---', '---']),
    ...[...records]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => {
        const details = Object.entries(r.figures)
          .filter(([k]) => !keys.includes(k))
          .map(([k, v]) => `${k}: ${String(v)}`)
          .join('; ');
        const when = `${r.recordedAt.slice(0, 16).replace('T', ' ')} (Node ${r.node}, ${r.platform}, ${r.cpus} cores)`;
        return row([
          cell(r.name),
          ...keys.map((k) => cell(r.figures[k] ?? '')),
          cell(details),
          when,
        ]);
      }),
  ];
  const inputs = records.reduce(
    (n, r) => n + (typeof r.figures.inputs === 'number' ? r.figures.inputs : 0),
    0,
  );
  const failures = records.reduce(
    (n, r) => n + (typeof r.figures.failures === 'number' ? r.figures.failures : 0),
    0,
  );
  if (inputs > 0)
    lines.push(
      '',
      `Total: **${inputs.toLocaleString('en-US')} inputs**, **${failures} failures**.`,
    );
  return lines.join('\n');
}

/** `doc` with every area's marked block replaced by its table; markers that are missing are left alone. */
export function updateDoc(doc: string, records: readonly ReliabilityRecord[]): string {
  const latest = latestFigures(records);
  let out = doc;
  for (const area of AREAS) {
    const start = `<!-- figures:${area}:start -->`;
    const end = `<!-- figures:${area}:end -->`;
    const i = out.indexOf(start);
    const j = out.indexOf(end);
    if (i < 0 || j < i) continue;
    const table = renderArea(latest.filter((r) => r.area === area));
    out = `${out.slice(0, i + start.length)}\n${table}\n${out.slice(j)}`;
  }
  return out;
}

/** What --check compares: the doc as prettier may have re-padded it (spaces, dashes, blank lines). */
function normalize(doc: string): string {
  return doc
    .replace(/[ \t]+/g, ' ')
    .replace(/-{3,}/g, '---')
    .replace(/\n{2,}/g, '\n')
    .trim();
}

function main(): void {
  const check = process.argv.includes('--check');
  const records = readFigures();
  const doc = readFileSync(DOC, 'utf8');
  const next = updateDoc(doc, records);
  if (check) {
    if (normalize(next) !== normalize(doc)) {
      console.error(
        `${DOC} is out of date with ${figuresFile()}; run npx tsx tools/reliability/figures-to-docs.ts`,
      );
      process.exit(1);
    }
    console.log(`${DOC} is up to date.`);
    return;
  }
  writeFileSync(DOC, next);
  console.log(`Updated ${DOC} from ${records.length} records in ${figuresFile()}.`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) main();
