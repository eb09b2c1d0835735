import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Figures of the reliability suite (inputs tried, faults injected, load held …). Each test file
 * appends one JSON line per record to test-artifacts/reliability/figures.jsonl (gitignored);
 * tools/reliability/figures-to-docs.ts turns the latest record per (area, name) into the table
 * in docs/reliability.md. One line per append: vitest runs files in parallel processes, and an
 * O_APPEND write of one short line never interleaves with another on a local disk.
 */

export type FigureValue = number | string | boolean;

export type ReliabilityArea = 'fuzz' | 'faults' | 'load' | 'access' | 'transport' | 'attack';

export type ReliabilityRecord = {
  area: ReliabilityArea;
  /** What was exercised, e.g. "package reader" or "server API". */
  name: string;
  /** e.g. { inputs: 4000, failures: 0 }; keys are shown as table columns, in this order. */
  figures: Record<string, FigureValue>;
  recordedAt: string;
  node: string;
  platform: string;
  cpus: number;
};

/** Repo root: this file lives at tests/reliability/. */
const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Where the records go; FGL_RELIABILITY_FIGURES overrides it (tests of the tooling). */
export function figuresFile(): string {
  return (
    process.env.FGL_RELIABILITY_FIGURES ??
    path.join(ROOT, 'test-artifacts', 'reliability', 'figures.jsonl')
  );
}

/** Append one record. Call it once per test file (or per area it covers), after the counts are final. */
export function recordFigures(
  area: ReliabilityArea,
  name: string,
  figures: Record<string, FigureValue>,
): ReliabilityRecord {
  const record: ReliabilityRecord = {
    area,
    name,
    figures,
    recordedAt: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
  };
  const file = figuresFile();
  mkdirSync(path.dirname(file), { recursive: true });
  appendFileSync(file, JSON.stringify(record) + '\n');
  return record;
}

/** Every record in the file, oldest first; lines that do not parse are skipped (a torn write). */
export function readFigures(file = figuresFile()): ReliabilityRecord[] {
  if (!existsSync(file)) return [];
  const out: ReliabilityRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as ReliabilityRecord;
      if (typeof r.area === 'string' && typeof r.name === 'string' && typeof r.figures === 'object')
        out.push(r);
    } catch {
      // a partial line from an interrupted run: ignore it
    }
  }
  return out;
}

/** The most recent record per (area, name). */
export function latestFigures(records: readonly ReliabilityRecord[]): ReliabilityRecord[] {
  const latest = new Map<string, ReliabilityRecord>();
  for (const r of records) {
    const key = `${r.area}\u0000${r.name}`;
    const prev = latest.get(key);
    if (!prev || prev.recordedAt <= r.recordedAt) latest.set(key, r);
  }
  return [...latest.values()];
}
