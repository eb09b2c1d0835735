/**
 * A DP preparation is a plan; approving it is the one moment noise is drawn (issue #12 item 3).
 *
 *   prepare   rows (the study's public bins), exact counts, checks and the mechanism's exact
 *             parameters → plan.json + plan-vectors.f32 (local only, never sent) and the report.
 *             No noise, no ε: previewing N times costs nothing and shows no noise draw.
 *   approve   releasePlan(): the budget is checked again (site ledger and machine-wide record),
 *             the noise is drawn once, the package is staged under a temporary name, ε is charged
 *             (machine-wide record, then one site-ledger transaction that also records the package
 *             and ties the plan to it; both synchronous = FULL), and only then is the package put
 *             in place, so no bytes that could leave exist before their ε is on disk.
 *   again     approving a released plan returns the same package (no new draw, no new charge);
 *             if that file is gone (a crash in the instant between charge and rename, or deleted)
 *             it refuses: the ε stays charged and a new plan must be prepared and charged again.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurable } from '../../core/fs/durable-file';
import { hashFile } from '../../core/models/model-digest';
import type { PackageMetadata } from '../../shared/package-format';
import type { Ledger } from '../ledger/ledger';
import { budgetCheck } from '../privacy/differential-privacy';
import { noisyBinRow, noisyCounts, type DpReleaseParameters } from '../privacy/dp-release';
import type { MachineSpend } from '../privacy/machine-spend';
import { secureRng } from '../privacy/secure-rng';
import type { Rng } from '../privacy/seeded-rng';
import { memberMean } from './outgoing-rows';
import { stagePackageFile } from './package-writer';
import { reportMarkdown, type PrivacyReport } from './privacy-report';
import { checkedReport, parseReport } from '../../shared/privacy-report';
import { PrepareError } from './prepare-error';

export const PLAN_FILE = 'plan.json';
const VECTORS_FILE = 'plan-vectors.f32';

const PlanFile = z.object({
  format: z.literal('fgl-release-plan'),
  version: z.literal(1),
  metadata: z.record(z.string(), z.unknown()),
  dp: z.object({
    epsilon: z.number(),
    delta: z.number(),
    clip: z.number(),
    sigma: z.number(),
    sigmaCount: z.number(),
    threshold: z.number(),
    adjacency: z.literal('add-remove-one-unit'),
  }),
  dim: z.number().int().positive(),
  dtype: z.enum(['F16', 'F32']),
  vectors: z.object({
    file: z.string(),
    count: z.number().int().nonnegative(),
    sha256: z.string(),
  }),
  rows: z.array(
    z.object({
      label: z.number().int(),
      count: z.number().int(),
      units: z.array(z.array(z.number().int())),
      unitKeys: z.array(z.string()),
    }),
  ),
  unitKeys: z.array(z.string()),
  machineKeys: z.array(z.string()),
});
type PlanFile = z.infer<typeof PlanFile>;

/** Write the plan's private files; returns the sha256 of plan.json (which pins the vectors file too). */
export async function writePlanFiles(
  dir: string,
  p: {
    metadata: PackageMetadata;
    dp: DpReleaseParameters;
    dim: number;
    dtype: 'F16' | 'F32';
    prompts: readonly string[];
    vectorOf: (prompt: string) => Float32Array;
    /** Each bin: its units, each a list of its members' prompts. */
    rows: { label: number; count: number; units: string[][]; unitKeys: string[] }[];
    unitKeys: string[];
    machineKeys: string[];
    signal?: AbortSignal | undefined;
  },
): Promise<string> {
  const rowLen = 77 * p.dim;
  const index = new Map(p.prompts.map((t, i) => [t, i]));
  const vectors = new Float32Array(p.prompts.length * rowLen);
  p.prompts.forEach((t, i) => vectors.set(p.vectorOf(t), i * rowLen));
  p.signal?.throwIfAborted();
  const vbytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
  await writeFileDurable(join(dir, VECTORS_FILE), vbytes, 0o600);
  const plan: PlanFile = {
    format: 'fgl-release-plan',
    version: 1,
    metadata: p.metadata as unknown as Record<string, unknown>,
    dp: p.dp,
    dim: p.dim,
    dtype: p.dtype,
    vectors: {
      file: VECTORS_FILE,
      count: p.prompts.length,
      sha256: createHash('sha256').update(vbytes).digest('hex'),
    },
    rows: p.rows.map((r) => ({
      label: r.label,
      count: r.count,
      units: r.units.map((u) => u.map((t) => index.get(t)!)),
      unitKeys: r.unitKeys,
    })),
    unitKeys: p.unitKeys,
    machineKeys: p.machineKeys,
  };
  const text = JSON.stringify(plan);
  await writeFileDurable(join(dir, PLAN_FILE), text, 0o600);
  return createHash('sha256').update(text).digest('hex');
}

export type ReleaseResult = {
  sha256: string;
  bytes: number;
  packagePath: string;
  report: PrivacyReport;
  /** True when the plan had been approved before: the same package, no new noise, no new charge. */
  reused: boolean;
};

/**
 * Approve a DP plan: draw its noise once, charge ε durably, write the package (see the file
 * comment). Approving a released plan again returns that package.
 */
export async function releasePlan(o: {
  ledger: Ledger;
  planId: number;
  approvers: readonly string[];
  machine?: MachineSpend | undefined;
  /** Generator of the DP noise; tests only (default: the secure generator). */
  rng?: Rng;
  signal?: AbortSignal | undefined;
}): Promise<ReleaseResult> {
  const plan = o.ledger.plans.get(o.planId);
  if (!plan)
    throw new PrepareError(
      `No release plan #${o.planId} in this site's ledger.`,
      'Prepare the package again (fgl site prepare).',
    );
  if (o.approvers.length === 0 || o.approvers.some((a) => a.trim() === ''))
    throw new PrepareError(
      'Approving a plan needs at least one named approver.',
      'Give the approver’s name.',
    );
  const packagePath = join(plan.dir, 'package.safetensors');
  const reportJsonPath = join(plan.dir, 'privacy-report.json');
  if (plan.outcome === 'nothing-sent')
    throw new PrepareError(
      `This plan was approved on ${plan.releasedAt} and no bin's noisy count reached the threshold: nothing was sent, and its ε ${plan.epsilon} was charged (the noise was drawn).`,
      'Prepare a new plan (a larger ε, or more images per class); approving it charges ε again.',
    );
  if (plan.outcome === 'package') {
    const pkg = o.ledger.packages.get(plan.packageSha256!)!;
    if (!existsSync(pkg.path) || (await hashFile(pkg.path)).sha256 !== pkg.sha256)
      throw new PrepareError(
        `The package drawn when this plan was approved (sha256 ${pkg.sha256.slice(0, 12)}…) is no longer at ${pkg.path}; its ε ${plan.epsilon} was charged then and is not given back.`,
        'Prepare a new plan; approving it draws new noise and charges ε again. Fresh noise for the same plan is never free.',
      );
    return {
      sha256: pkg.sha256,
      bytes: pkg.bytes,
      packagePath: pkg.path,
      report: parseReport(pkg.report, `of package ${pkg.sha256.slice(0, 12)}… in the ledger`),
      reused: true,
    };
  }

  const text = await readFile(join(plan.dir, PLAN_FILE), 'utf8').catch(() => null);
  if (text === null || createHash('sha256').update(text).digest('hex') !== plan.planSha256)
    throw new PrepareError(
      `The plan in ${plan.dir} is missing or changed since it was prepared; what is approved must be what was reviewed.`,
      'Prepare the package again.',
    );
  const p = PlanFile.parse(JSON.parse(text));
  const vbytes = await readFile(join(plan.dir, p.vectors.file));
  if (createHash('sha256').update(vbytes).digest('hex') !== p.vectors.sha256)
    throw new PrepareError(
      `The plan's vectors in ${plan.dir} changed since it was prepared.`,
      'Prepare the package again.',
    );
  const report = parseReport(JSON.parse(await readFile(reportJsonPath, 'utf8')), reportJsonPath);
  const rowLen = 77 * p.dim;
  const all = new Float32Array(new Uint8Array(vbytes).buffer);
  const vec = (i: number) => all.subarray(i * rowLen, (i + 1) * rowLen);

  // The budget again: other plans may have been approved since this one was prepared.
  const spent = Math.max(
    o.ledger.dp.spentByUnits(p.unitKeys),
    o.ledger.dp.spent(plan.datasetId),
    o.machine?.spentByUnits(p.machineKeys) ?? 0,
  );
  const check = budgetCheck(spent, p.dp.epsilon, report.dp?.budget ?? null);
  if (!check.ok)
    throw new PrepareError(
      check.message,
      'ε is charged to the images themselves (by content): another folder, a copy, a link or another FGL_HOME of this account finds the same spend. Nothing was drawn or charged.',
    );

  // The one draw.
  const rng = o.rng ?? secureRng();
  const noisy = noisyCounts(
    p.rows.map((r) => r.count),
    p.dp,
    rng,
  );
  const sendIdx = p.rows.map((_, i) => i).filter((i) => noisy[i]! >= p.dp.threshold);
  const releasedAt = new Date().toISOString();
  const approvers = [...o.approvers];
  const charge = (packageSha256: string | null) => {
    o.machine?.recordUnits(p.machineKeys, {
      studyId: plan.studyId,
      epsilon: p.dp.epsilon,
      delta: p.dp.delta,
      packageSha256: packageSha256 ?? `none:plan-${plan.id}`,
      siteLedger: o.ledger.file,
    });
  };
  if (sendIdx.length === 0) {
    charge(null);
    o.ledger.transaction(() => {
      o.ledger.dp.record({
        datasetId: plan.datasetId,
        studyId: plan.studyId,
        epsilon: p.dp.epsilon,
        delta: p.dp.delta,
        packageSha256: null,
      });
      o.ledger.dp.recordUnits(p.unitKeys, {
        studyId: plan.studyId,
        epsilon: p.dp.epsilon,
        delta: p.dp.delta,
        packageSha256: `none:plan-${plan.id}`,
      });
      o.ledger.plans.release(plan.id, { outcome: 'nothing-sent', packageSha256: null, approvers });
    });
    throw new PrepareError(
      `No bin's noisy count reached the threshold ${p.dp.threshold.toFixed(1)} (k + 2σ, σ = ${p.dp.sigmaCount.toFixed(2)} at ε ${p.dp.epsilon}); nothing leaves. ε ${p.dp.epsilon} was charged: the noise was drawn.`,
      'Use a larger ε, more images per class, or class prompts (fewer, larger bins), and prepare a new plan.',
    );
  }
  const metadata = {
    ...(p.metadata as PackageMetadata),
    created_at: `${releasedAt.slice(0, 10)}T00:00:00.000Z`,
  };
  const counts = sendIdx.map((i) => Math.max(1, Math.round(noisy[i]!)));
  const staged = await stagePackageFile(
    packagePath,
    {
      metadata,
      n: sendIdx.length,
      dim: p.dim,
      dtype: p.dtype,
      labels: Int32Array.from(sendIdx.map((i) => p.rows[i]!.label)),
      counts: Int32Array.from(counts),
    },
    (function* () {
      for (const i of sendIdx) {
        const units = p.rows[i]!.units.map((u) =>
          u.length === 1 ? vec(u[0]!) : memberMean(u.map(vec)),
        );
        yield noisyBinRow(units, rowLen, noisy[i]!, p.dp, rng);
      }
    })(),
    { mode: 0o600, ...(o.signal ? { signal: o.signal } : {}) },
  );
  const sent = new Set(sendIdx);
  const released: PrivacyReport = checkedReport({
    ...report,
    rows: report.rows.map((r, i) => ({
      ...r,
      blocked: !sent.has(i),
      checks: r.checks.map((c) =>
        c.name === 'k-cohort'
          ? {
              ...c,
              passed: sent.has(i),
              detail: `DP: noisy count ${noisy[i]!.toFixed(1)} ${sent.has(i) ? '≥' : '<'} threshold ${p.dp.threshold.toFixed(1)} (drawn once, on approval; exact: ${r.units} distinct units, local only)`,
            }
          : c,
      ),
    })),
    outgoing: {
      ...report.outgoing,
      rows: sendIdx.length,
      bytes: staged.bytes,
      sha256: staged.sha256,
      shape: [sendIdx.length, 77, p.dim],
    },
    ...(report.dp ? { dp: { ...report.dp, spentBefore: spent, totalAfter: check.total } } : {}),
    release: {
      state: 'released',
      approvers,
      releasedAt,
      noisyCounts: sendIdx.map((i) => noisy[i]!),
    },
  });
  try {
    // ε on disk before the package can be found: machine-wide record first (over-counting is the
    // safe side), then the site ledger in one transaction with the package and the plan's outcome.
    charge(staged.sha256);
    o.ledger.transaction(() => {
      // Identical bytes released before (possible only when the noise and the data coincide, e.g. a
      // seeded test): one package row; ε is still charged, since this draw happened.
      const again = o.ledger.packages.get(staged.sha256) !== undefined;
      if (!again)
        o.ledger.packages.insert({
          runId: plan.runId,
          sha256: staged.sha256,
          bytes: staged.bytes,
          path: packagePath,
          rows: sendIdx.length,
          privacy: {
            k: report.settings.k,
            aggregation: report.settings.aggregation,
            promptMode: report.settings.promptMode,
            dp: released.dp,
          },
          report: released as unknown as Record<string, unknown>,
        });
      if (!again)
        o.ledger.releasedRows.record(
          sendIdx.map((i) => ({
            label: p.rows[i]!.label,
            units: p.rows[i]!.unitKeys,
            packageSha256: staged.sha256,
            studyId: plan.studyId,
            dp: true,
          })),
        );
      o.ledger.dp.record({
        datasetId: plan.datasetId,
        studyId: plan.studyId,
        epsilon: p.dp.epsilon,
        delta: p.dp.delta,
        packageSha256: staged.sha256,
      });
      o.ledger.dp.recordUnits(p.unitKeys, {
        studyId: plan.studyId,
        epsilon: p.dp.epsilon,
        delta: p.dp.delta,
        packageSha256: staged.sha256,
      });
      o.ledger.plans.release(plan.id, {
        outcome: 'package',
        packageSha256: staged.sha256,
        approvers,
      });
    });
  } catch (e) {
    await staged.discard();
    throw e;
  }
  await staged.commit();
  await writeFileDurable(reportJsonPath, JSON.stringify(released, null, 2), 0o600);
  await writeFileDurable(join(plan.dir, 'privacy-report.md'), reportMarkdown(released), 0o600);
  return {
    sha256: staged.sha256,
    bytes: staged.bytes,
    packagePath,
    report: released,
    reused: false,
  };
}
