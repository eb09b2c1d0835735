import { preparePackage, type PrepareOptions, type PrepareResult } from '../../src/site/prepare/prepare-package';
import { releasePlan } from '../../src/site/prepare/release-plan';
import type { Rng } from '../../src/site/privacy/seeded-rng';

/**
 * Prepare, and when that made a DP plan, approve it at once (noise from `rng`): the package as
 * the pre-plan pipeline returned it, for tests about what a released DP package holds.
 */
export async function prepareAndApprove(o: PrepareOptions & { rng?: Rng }, approvers = ['Test Approver']): Promise<PrepareResult & { sha256: string; bytes: number }> {
  const { rng, ...opts } = o;
  const r = await preparePackage(opts);
  if (!r.plan) return r as PrepareResult & { sha256: string; bytes: number };
  const rel = await releasePlan({ ledger: o.ledger, planId: r.plan.id, approvers, ...(rng ? { rng } : {}), ...(o.machine ? { machine: o.machine } : {}) });
  return { ...r, sha256: rel.sha256, bytes: rel.bytes, packagePath: rel.packagePath, report: rel.report };
}
