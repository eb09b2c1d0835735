/**
 * The privacy report's contract (`privacy-report.json`, local only): what leaves, every check per
 * row, what was blocked and why, and — with DP — whether it is still a plan or the package its one
 * noise draw made. Validated where it is produced (prepare, plan approval) and where it is read
 * (the site API restoring a package, plan approval).
 */
import { z } from 'zod';

export const PhiSummary = z.object({
  captions: z.number().int(),
  redacted: z.number().int(),
  dropped: z.number().int(),
  findings: z.record(z.string(), z.number().int()),
});
export type PhiSummary = z.infer<typeof PhiSummary>;

export const RowCheck = z.object({
  name: z.enum(['k-cohort', 'singling-out', 'phi-scrub', 'differential-privacy']),
  passed: z.boolean(),
  detail: z.string(),
});
export type RowCheck = z.infer<typeof RowCheck>;

export const ReportRow = z.object({
  index: z.number().int(),
  label: z.string(),
  /** The prompt text when the row has exactly one, else null. Local only. */
  prompt: z.string().nullable(),
  /** Every distinct prompt averaged into the row (at most 20 shown). Local only. */
  prompts: z.array(z.string()),
  /** Files averaged into the row. */
  images: z.number().int(),
  /** Distinct privacy units (patients / distinct pictures) among them: what k and the `counts` tensor count. */
  units: z.number().int(),
  blocked: z.boolean(),
  checks: z.array(RowCheck),
});
export type ReportRow = z.infer<typeof ReportRow>;

const UnitKind = z.enum(['patient', 'image', 'mixed']);
const Point = z.tuple([z.number(), z.number()]);

export const PrivacyReport = z.object({
  format: z.literal('fgl-privacy-report'),
  version: z.literal(1),
  createdAt: z.string(),
  appVersion: z.string(),
  study: z.object({ id: z.string(), name: z.string() }),
  siteId: z.string(),
  tinyModels: z.boolean(),
  models: z.object({
    clip: z.object({ id: z.string(), digest: z.string() }),
    encoder: z.object({ id: z.string(), digest: z.string(), dim: z.number().int() }),
    captioner: z.object({ id: z.string(), digest: z.string() }).nullable(),
  }),
  devices: z.record(z.string(), z.string()),
  dataset: z.object({
    root: z.string(),
    images: z.number().int(),
    units: z.object({ kind: UnitKind, count: z.number().int(), merged: z.object({ patient: z.number().int(), identical: z.number().int(), nearDuplicate: z.number().int() }) }),
    classes: z.array(z.object({ name: z.string(), count: z.number().int() })),
    skipped: z.array(z.object({ reason: z.string(), count: z.number().int() })),
  }),
  settings: z.object({ promptMode: z.string(), aggregation: z.string(), k: z.number().int(), singlingOutRatio: z.number(), dpEpsilon: z.number().nullable() }),
  /**
   * Exactly what the package holds. For a DP plan (release.state 'plan'): every public bin, no
   * bytes or hash yet; which bins are sent is decided by the noise drawn on approval.
   */
  outgoing: z.object({
    rows: z.number().int(),
    bytes: z.number().int().nullable(),
    shape: z.tuple([z.number().int(), z.number().int(), z.number().int()]),
    dtype: z.enum(['F16', 'F32']),
    sha256: z.string().nullable(),
    tensors: z.array(z.string()),
  }),
  /**
   * DP only. 'plan': no noise drawn, no ε charged (a preview costs nothing); 'released': the
   * noise was drawn once on approval, ε charged before anything was sent, `outgoing` is the package.
   */
  release: z
    .discriminatedUnion('state', [
      z.object({ state: z.literal('plan') }),
      z.object({ state: z.literal('released'), approvers: z.array(z.string()), releasedAt: z.string(), noisyCounts: z.array(z.number()) }),
    ])
    .optional(),
  rows: z.array(ReportRow),
  suppressed: z.array(z.object({ label: z.string(), images: z.number().int(), reason: z.string() })),
  phi: PhiSummary.nullable(),
  dp: z
    .object({
      epsilon: z.number(),
      delta: z.number(),
      clip: z.number(),
      /** σ of the noise on each coordinate of a bin's sum (dp-release.ts). */
      sigmaMax: z.number(),
      /** σ of the noise on a bin's count, and the public threshold a noisy count must reach. */
      sigmaCount: z.number(),
      threshold: z.number(),
      adjacency: z.literal('add-remove-one-unit'),
      unit: UnitKind,
      /** The guarantee, word for word, and what it does and does not cover. */
      statement: z.string(),
      covered: z.array(z.string()),
      notCovered: z.array(z.string()),
      spentBefore: z.number(),
      totalAfter: z.number(),
      budget: z.number().nullable(),
    })
    .nullable(),
  /** outgoing[i] is rows[i] (blocked rows too); local[j] are this site's images. */
  projection: z.object({
    outgoing: z.array(Point),
    local: z.array(z.object({ x: z.number(), y: z.number(), label: z.string(), imageId: z.number().int() })),
    /** null where a fit has no variance to explain (JSON has no NaN). */
    explainedVariance: z.tuple([z.number().nullable(), z.number().nullable()]),
  }),
  messages: z.array(z.string()),
});
export type PrivacyReport = z.infer<typeof PrivacyReport>;

/**
 * The report as it is written (JSON: a NaN becomes null) and checked against the contract: a bug
 * that produces a malformed report fails here, before the file or the ledger row exists.
 */
export function checkedReport(report: PrivacyReport): PrivacyReport {
  return PrivacyReport.parse(JSON.parse(JSON.stringify(report)));
}

/** A report read back from privacy-report.json or the ledger; a clear error if it does not fit. */
export function parseReport(json: unknown, where: string): PrivacyReport {
  const r = PrivacyReport.safeParse(json);
  if (!r.success) throw new Error(`The privacy report ${where} is not one this version of FGL wrote (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}); prepare the package again.`);
  return r.data;
}
