import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetError } from './dataset-error';
import { parseCsv } from './parse-csv';

export type ManifestEntry = {
  /** As written in the manifest; relative to the manifest's folder. */
  path: string;
  /** Trimmed, NFC; '' when missing. */
  label: string;
  /** Where it came from, for messages: "line 7" or "item 3". */
  where: string;
  /** Optional `patient_id` column: images of one patient count once for privacy. */
  patientId?: string;
};

// A manifest is text listing files; anything bigger is almost surely the wrong file.
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const JsonManifest = z.array(
  z.looseObject({
    path: z.string(),
    label: z.union([z.string(), z.number()]).nullish(),
    patient_id: z.union([z.string(), z.number()]).nullish(),
  }),
);

const HINT =
  'A manifest is a CSV with a header row `path,label` or a JSON array of {"path": …, "label": …}; paths are relative to the manifest\'s folder';

function normaliseLabel(label: string | number | null | undefined): string {
  return label === null || label === undefined ? '' : String(label).trim().normalize('NFC');
}

/** The optional patient id, trimmed; absent when empty. */
function patient(id: string | number | null | undefined): { patientId?: string } {
  const v = normaliseLabel(id);
  return v === '' ? {} : { patientId: v };
}

function parseJsonManifest(text: string, file: string): ManifestEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(`Manifest ${file} is not valid JSON: ${(e as Error).message}`, HINT);
  }
  const parsed = JsonManifest.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length ? ` at [${issue.path.join('].')}` : '';
    throw new DatasetError(
      `Manifest ${file} is not an array of {path, label}${at}: ${issue.message}`,
      HINT,
    );
  }
  return parsed.data.map((e, i) => ({
    path: e.path,
    label: normaliseLabel(e.label),
    where: `item ${i + 1}`,
    ...patient(e.patient_id),
  }));
}

function parseCsvManifest(text: string, file: string): ManifestEntry[] {
  // Spreadsheets in many locales export ';' or tabs: pick whichever the header line uses most.
  const headerLine = text.slice(0, text.search(/\r?\n|$/));
  const delimiter = [',', ';', '\t'].reduce(
    (best, d) => (headerLine.split(d).length > headerLine.split(best).length ? d : best),
    ',',
  );
  let records;
  try {
    records = parseCsv(text, delimiter);
  } catch (e) {
    throw new DatasetError(`Manifest ${file} is not valid CSV: ${(e as Error).message}`, HINT);
  }
  const header = records[0]?.cells.map((c) => c.trim().toLowerCase()) ?? [];
  const pathCol = header.indexOf('path');
  const labelCol = header.indexOf('label');
  const patientCol = header.indexOf('patient_id');
  if (pathCol < 0 || labelCol < 0)
    throw new DatasetError(
      `Manifest ${file} has no \`path\` and \`label\` columns (header: ${JSON.stringify(records[0]?.cells ?? [])})`,
      HINT,
    );
  const entries: ManifestEntry[] = [];
  for (const r of records.slice(1)) {
    if (r.cells.every((c) => c.trim() === '')) continue;
    entries.push({
      path: r.cells[pathCol] ?? '',
      label: normaliseLabel(r.cells[labelCol]),
      where: `line ${r.line}`,
      ...(patientCol >= 0 ? patient(r.cells[patientCol]) : {}),
    });
  }
  return entries;
}

/** Reads a CSV (`path,label` header) or JSON (`[{path,label}]`) manifest. Throws DatasetError. */
export async function readManifest(file: string): Promise<ManifestEntry[]> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new DatasetError(`Manifest ${file} is not a file`, HINT);
    if (st.size > MAX_MANIFEST_BYTES)
      throw new DatasetError(
        `Manifest ${file} is ${st.size} bytes; is it really a manifest?`,
        HINT,
      );
    text = await readFile(file, { encoding: 'utf8', flag: 'r' });
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new DatasetError(
      `Cannot read manifest ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'Check the path and its permissions',
    );
  }
  text = text.replace(/^\uFEFF/, '');
  const json = path.extname(file).toLowerCase() === '.json' || /^\s*\[/.test(text);
  return json ? parseJsonManifest(text, file) : parseCsvManifest(text, file);
}
