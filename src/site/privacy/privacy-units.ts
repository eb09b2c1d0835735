/**
 * The unit of privacy: what k and DP count. A row of 5 files is not "5 people" when the files
 * are copies of one image, or images of one patient.
 *
 *   patient  images whose scan record names a patient (manifest column `patient_id`, DICOM
 *            PatientID) are one unit per patient;
 *   image    otherwise one unit per distinct picture: byte-identical files (same sha256) and
 *            near-duplicates by pixels (perceptual-hash.ts: re-encoded, resampled, shifted,
 *            cropped, brightened, blurred) are one unit.
 * Groups are closed transitively (union–find): a near-copy of a patient's image belongs to that
 * patient. Near-duplicates are looked for within each class (one class's signatures in memory at
 * a time); byte-identical copies and patients are joined across classes.
 *
 * Unit keys are stable across runs and folders (content, not paths), so the differencing check
 * and the ε ledger can recognise the same unit in a later release: `patient:<HMAC-SHA256(site patient key, id)>` or
 * `image:<smallest member sha256>`.
 */
import { createHmac } from 'node:crypto';
import { type ImageSignature, isNearDuplicate, similarity } from './perceptual-hash';

export type UnitImage = { sha256: string; label: string; patientId?: string };

export type PrivacyUnits = {
  /** Unit index of each image. */
  unitOf: number[];
  /** Stable key of each unit (local only: it names content, never leaves the site). */
  keys: string[];
  /**
   * The same units keyed for the machine-wide ε record (machine-spend.ts): image keys are the
   * same; patient keys are HMACs under the record's own key, so every FGL_HOME agrees on them.
   */
  machineKeys: string[];
  /** What the units are: patients where every image names one, images where none does. */
  kind: 'patient' | 'image' | 'mixed';
  /** Images folded into another image's unit, by why. */
  merged: { patient: number; identical: number; nearDuplicate: number };
};

class UnionFind {
  private readonly parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]!]!;
      i = this.parent[i]!;
    }
    return i;
  }
  /** True when a and b were in different sets. */
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
    return true;
  }
}


/**
 * Group images into privacy units. `signatureOf(i)` gives image i's pixel signature (null when it
 * cannot be decoded: then only exact and patient matches apply); it is called one class at a time.
 */
export async function groupPrivacyUnits(
  images: readonly UnitImage[],
  signatureOf: (i: number) => Promise<ImageSignature | null>,
  /** The site's patient key (ledger.secrets): patient ids are stored only as HMACs under it. */
  patientKey: Buffer,
  signal?: AbortSignal,
  /** The machine-wide record's patient key (default: the site's, i.e. machineKeys = keys). */
  machinePatientKey: Buffer = patientKey,
): Promise<PrivacyUnits> {
  const uf = new UnionFind(images.length);
  const merged = { patient: 0, identical: 0, nearDuplicate: 0 };
  const first = new Map<string, number>();
  const join = (key: string, i: number, why: keyof typeof merged) => {
    const j = first.get(key);
    if (j === undefined) first.set(key, i);
    else if (uf.union(i, j)) merged[why]++;
  };
  images.forEach((img, i) => {
    if (img.patientId !== undefined) join(`p\0${img.patientId}`, i, 'patient');
  });
  images.forEach((img, i) => join(`s\0${img.sha256}`, i, 'identical'));
  const byLabel = new Map<string, number[]>();
  images.forEach((img, i) => {
    const list = byLabel.get(img.label);
    if (list) list.push(i);
    else byLabel.set(img.label, [i]);
  });
  for (const idx of byLabel.values()) {
    // One signature per distinct content: byte-identical files are already joined.
    const distinct = idx.filter((i) => first.get(`s\0${images[i]!.sha256}`) === i);
    const sigs: (ImageSignature | null)[] = [];
    for (const i of distinct) {
      signal?.throwIfAborted();
      sigs.push(await signatureOf(i));
    }
    for (let a = 0; a < distinct.length; a++) {
      const sa = sigs[a];
      if (!sa) continue;
      for (let b = a + 1; b < distinct.length; b++) {
        const sb = sigs[b];
        if (
          sb &&
          uf.find(distinct[a]!) !== uf.find(distinct[b]!) &&
          isNearDuplicate(similarity(sa, sb)) &&
          uf.union(distinct[a]!, distinct[b]!)
        )
          merged.nearDuplicate++;
      }
    }
  }
  const rootUnit = new Map<number, number>();
  const unitOf = images.map((_, i) => {
    const r = uf.find(i);
    let u = rootUnit.get(r);
    if (u === undefined) rootUnit.set(r, (u = rootUnit.size));
    return u;
  });
  const patients: (string | undefined)[] = [];
  const minSha: string[] = [];
  images.forEach((img, i) => {
    const u = unitOf[i]!;
    if (img.patientId !== undefined && (patients[u] === undefined || img.patientId < patients[u]!))
      patients[u] = img.patientId;
    if (minSha[u] === undefined || img.sha256 < minSha[u]!) minSha[u] = img.sha256;
  });
  const keysUnder = (key: Buffer) =>
    minSha.map((s, u) =>
      patients[u] !== undefined
        ? `patient:${createHmac('sha256', key).update(patients[u]!).digest('hex')}`
        : `image:${s}`,
    );
  const keys = keysUnder(patientKey);
  const named = images.filter((i) => i.patientId !== undefined).length;
  return {
    unitOf,
    keys,
    machineKeys: machinePatientKey === patientKey ? keys : keysUnder(machinePatientKey),
    kind: named === 0 ? 'image' : named === images.length ? 'patient' : 'mixed',
    merged,
  };
}

/** The distinct units among `members`, each with its members (in order of first appearance). */
export function unitsOf(members: readonly number[], unitOf: readonly number[]): number[][] {
  const byUnit = new Map<number, number[]>();
  for (const m of members) {
    const u = unitOf[m]!;
    const list = byUnit.get(u);
    if (list) list.push(m);
    else byUnit.set(u, [m]);
  }
  return [...byUnit.values()];
}
