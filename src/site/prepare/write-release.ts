/**
 * Stages 8 and 10 of prepare: what is written and recorded. Without DP nothing is random, so the
 * package itself is written (streamed row by row to a temporary file, then put in place) and
 * recorded with its released rows. With DP a plan is written instead (release-plan.ts) and
 * recorded awaiting approval: no noise, no ε.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileDurable } from '../../core/fs/durable-file';
import { PACKAGE_FORMAT_VERSION, type PackageMetadata } from '../../shared/package-format';
import type { PrivacyReport } from '../../shared/privacy-report';
import { studyManifestCanonicalJson, type Aggregation, type PrivacyPolicy, type PromptMode, type StudyManifest } from '../../shared/study';
import type { Ledger } from '../ledger/ledger';
import type { RowPlan } from '../privacy/plan-rows';
import type { PrivacyUnits } from '../privacy/privacy-units';
import type { PromptedImages } from '../prompts/prompt-stage';
import { outgoingRows } from './outgoing-rows';
import { stagePackageFile, type StagedPackage } from './package-writer';
import { reportMarkdown } from './privacy-report';
import { PLAN_FILE, writePlanFiles } from './release-plan';

/** The package header: what the server checks against the study. */
export function packageMetadata(o: { study: StudyManifest; siteId: string; encoderDigest: string; promptMode: PromptMode; aggregation: Aggregation; policy: PrivacyPolicy; units: PrivacyUnits; plan: RowPlan; appVersion: string }): PackageMetadata {
  const { dp, dpPlan } = o.plan;
  return {
    format: 'fgl-embedding-package',
    format_version: PACKAGE_FORMAT_VERSION,
    study_id: o.study.id,
    site_id: o.siteId,
    encoder_id: o.study.encoder.id,
    encoder_sha256: o.encoderDigest,
    prompt_mode: o.promptMode,
    aggregation: dpPlan ? 'class' : o.aggregation,
    // Instance rows are one image each: the study waived k for them, and the header says so.
    k: o.aggregation === 'instance' ? 1 : o.policy.k,
    privacy_unit: o.units.kind,
    dp_epsilon: dp?.epsilon ?? null,
    dp_delta: dp?.delta ?? null,
    dp_clip: dp?.clip ?? null,
    dp_sigma: dp?.sigmaMax ?? null,
    ...(dpPlan ? { dp_adjacency: dpPlan.adjacency, dp_threshold: dpPlan.threshold } : {}),
    study_sha256: createHash('sha256').update(studyManifestCanonicalJson(o.study)).digest('hex'),
    singling_out_ratio: o.policy.singlingOutRatio,
    phi_action: o.policy.phiAction,
    app_version: o.appVersion,
    // Day only: the server need not learn when in the day a site prepared its data.
    created_at: `${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`,
  };
}

/** Without DP: stream the package to a temporary file beside its final path (not yet in place). */
export async function stagePackage(o: { outDir: string; metadata: PackageMetadata; plan: RowPlan; units: PrivacyUnits; condOf: (i: number) => Float32Array; dim: number; dtype: 'F16' | 'F32'; signal?: AbortSignal | undefined }): Promise<StagedPackage> {
  const { cohorts, sendIdx } = o.plan;
  await mkdir(o.outDir, { recursive: true });
  // Members' vectors by reference, grouped by unit: each unit adds one bounded vector to its row.
  const groups = sendIdx.map((i) => cohorts.rows[i]!.units.map((u) => u.map(o.condOf)));
  return stagePackageFile(
    join(o.outDir, 'package.safetensors'),
    { metadata: o.metadata, n: sendIdx.length, dim: o.dim, dtype: o.dtype, labels: Int32Array.from(sendIdx.map((i) => cohorts.rows[i]!.label)), counts: Int32Array.from(sendIdx.map((i) => cohorts.rows[i]!.count)) },
    outgoingRows(groups),
    { mode: 0o600, ...(o.signal ? { signal: o.signal } : {}) },
  );
}

async function writeReport(outDir: string, report: PrivacyReport): Promise<void> {
  await writeFileDurable(join(outDir, 'privacy-report.json'), JSON.stringify(report, null, 2), 0o600);
  await writeFileDurable(join(outDir, 'privacy-report.md'), reportMarkdown(report), 0o600);
}

/** Put the package in place, write the report, record package, released rows and the run as done. */
export async function recordPackage(o: { ledger: Ledger; runId: number; studyId: string; outDir: string; staged: StagedPackage; report: PrivacyReport; plan: RowPlan; privacy: Record<string, unknown> }): Promise<void> {
  const { sha256, bytes } = o.staged;
  await o.staged.commit();
  await writeReport(o.outDir, o.report);
  o.ledger.transaction(() => {
    // The created_at is a day, so an unchanged non-DP release is byte-identical to one made earlier that
    // day: the ledger already holds it (and its rows); the new file is the same package.
    if (o.ledger.packages.get(sha256) === undefined) {
      o.ledger.packages.insert({ runId: o.runId, sha256, bytes, path: join(o.outDir, 'package.safetensors'), rows: o.plan.sendIdx.length, privacy: o.privacy, report: o.report as unknown as Record<string, unknown> });
      o.ledger.releasedRows.record(o.plan.released.map((r) => ({ ...r, packageSha256: sha256, studyId: o.studyId, dp: false })));
    }
    o.ledger.runs.update(o.runId, { status: 'done', progress: { stage: 'done' } });
  });
}

/** With DP: write the plan (local only) and the report, and record the plan awaiting approval. */
export async function recordPlan(o: { ledger: Ledger; runId: number; datasetId: number; studyId: string; outDir: string; metadata: PackageMetadata; plan: RowPlan; prompted: PromptedImages; units: PrivacyUnits; dim: number; dtype: 'F16' | 'F32'; report: PrivacyReport; signal?: AbortSignal | undefined }): Promise<{ id: number; path: string }> {
  const dpPlan = o.plan.dpPlan!;
  await mkdir(o.outDir, { recursive: true });
  // Every bin's units as indices into the distinct prompts' vectors.
  const planSha256 = await writePlanFiles(o.outDir, {
    metadata: o.metadata,
    dp: dpPlan,
    dim: o.dim,
    dtype: o.dtype,
    prompts: o.prompted.distinct,
    vectorOf: (p) => o.prompted.cond.get(p)!,
    rows: o.plan.cohorts.rows.map((r, i) => ({ label: r.label, count: r.count, units: r.units.map((u) => u.map((m) => o.prompted.prompts[m]!)), unitKeys: o.plan.released[i]!.units })),
    unitKeys: o.units.keys,
    machineKeys: o.units.machineKeys,
    signal: o.signal,
  });
  await writeReport(o.outDir, o.report);
  const row = o.ledger.transaction(() => {
    const r = o.ledger.plans.insert({ runId: o.runId, datasetId: o.datasetId, studyId: o.studyId, dir: resolve(o.outDir), planSha256, epsilon: dpPlan.epsilon, delta: dpPlan.delta, report: o.report as unknown as Record<string, unknown> });
    o.ledger.runs.update(o.runId, { status: 'done', progress: { stage: 'done' } });
    return r;
  });
  return { id: row.id, path: join(o.outDir, PLAN_FILE) };
}
