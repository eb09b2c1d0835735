import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DatasetError } from './dataset-error';
import { parseCsv } from './parse-csv';

/** What identifies a manifest row's file: its path, or a DICOM UID found in the file itself. */
export type ManifestKey = 'path' | 'sop_instance_uid' | 'study_instance_uid';
export const MANIFEST_KEYS: readonly ManifestKey[] = [
  'path',
  'sop_instance_uid',
  'study_instance_uid',
];

export type ManifestEntry = {
  /**
   * As written in the manifest: a path relative to the manifest's folder, or (for a manifest
   * keyed by `sop_instance_uid` / `study_instance_uid`) that UID.
   */
  path: string;
  /** Trimmed, NFC; '' when missing. */
  label: string;
  /** Where it came from, for messages: "line 7" or "item 3". */
  where: string;
  /** Optional `patient_id` column: the patient the file belongs to (stays local); images of one patient count once for privacy. */
  patientId?: string;
};

// A manifest is text listing files; anything bigger is almost surely the wrong file.
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const JsonManifest = z.array(
  z.looseObject({
    path: z.string().optional(),
    sop_instance_uid: z.string().optional(),
    study_instance_uid: z.string().optional(),
    label: z.union([z.string(), z.number()]).nullish(),
    patient_id: z.union([z.string(), z.number()]).nullish(),
  }),
);

const HINT =
  'A manifest is a CSV with a header row `path,label` (optional `patient_id`) or a JSON array of {"path": …, "label": …}; paths are relative to the manifest\'s folder. For DICOM, `sop_instance_uid` or `study_instance_uid` may stand in for `path`';

/** A parsed manifest: its rows and what they are keyed by. */
export type Manifest = { key: ManifestKey; entries: ManifestEntry[] };

function optionalId(v: string | number | null | undefined): { patientId?: string } {
  const s = v === null || v === undefined ? '' : String(v).trim();
  return s ? { patientId: s } : {};
}

function normaliseLabel(label: string | number | null | undefined): string {
  return label === null || label === undefined ? '' : String(label).trim().normalize('NFC');
}

function parseJsonManifest(text: string, file: string): Manifest {
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
  const first = parsed.data[0];
  const key = MANIFEST_KEYS.find((k) => first?.[k] !== undefined) ?? 'path';
  const entries: ManifestEntry[] = [];
  for (const [i, e] of parsed.data.entries()) {
    const id = e[key];
    if (typeof id !== 'string')
      throw new DatasetError(
        `Manifest ${file} item ${i + 1} has no "${key}" (the first item has one)`,
        HINT,
      );
    entries.push({
      path: id,
      label: normaliseLabel(e.label),
      where: `item ${i + 1}`,
      ...optionalId(e.patient_id),
    });
  }
  return { key, entries };
}

function parseCsvManifest(text: string, file: string): Manifest {
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
  const key = MANIFEST_KEYS.find((k) => header.includes(k)) ?? 'path';
  const pathCol = header.indexOf(key);
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
      ...(patientCol >= 0 ? optionalId(r.cells[patientCol]) : {}),
    });
  }
  return { key, entries };
}

/**
 * Reads a CSV (`path,label` header) or JSON (`[{path,label}]`) manifest; `sop_instance_uid` or
 * `study_instance_uid` may key the rows instead of `path`, and `patient_id` is optional.
 * Throws DatasetError.
 */
export async function readManifest(file: string): Promise<Manifest> {
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
