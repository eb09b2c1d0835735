import type Database from 'better-sqlite3';
import { type Clock, fromJsonObject, type JsonObject, toJson } from './ledger-json';

/** A DP release plan (migration 008): what the privacy officer approves before any noise is drawn. */
export type PlanRow = {
  id: number;
  runId: number;
  datasetId: number;
  studyId: string;
  /** The folder holding plan.json, plan-vectors.f32 and the report (local only). */
  dir: string;
  /** sha256 of plan.json: what was approved is what is drawn from. */
  planSha256: string;
  epsilon: number;
  delta: number;
  report: JsonObject;
  createdAt: string;
  /** null until approved; then 'package' (packageSha256 set) or 'nothing-sent' (no bin passed). */
  outcome: 'package' | 'nothing-sent' | null;
  packageSha256: string | null;
  approvers: string[] | null;
  releasedAt: string | null;
};

type Raw = {
  id: number;
  run_id: number;
  dataset_id: number;
  study_id: string;
  dir: string;
  plan_sha256: string;
  epsilon: number;
  delta: number;
  report: string;
  created_at: string;
  outcome: 'package' | 'nothing-sent' | null;
  package_sha256: string | null;
  approvers: string | null;
  released_at: string | null;
};

const toRow = (r: Raw): PlanRow => ({
  id: r.id,
  runId: r.run_id,
  datasetId: r.dataset_id,
  studyId: r.study_id,
  dir: r.dir,
  planSha256: r.plan_sha256,
  epsilon: r.epsilon,
  delta: r.delta,
  report: fromJsonObject(r.report),
  createdAt: r.created_at,
  outcome: r.outcome,
  packageSha256: r.package_sha256,
  approvers: r.approvers === null ? null : (JSON.parse(r.approvers) as string[]),
  releasedAt: r.released_at,
});

export class PlansRepo {
  constructor(
    private readonly db: Database.Database,
    private readonly now: Clock,
  ) {}

  insert(p: { runId: number; datasetId: number; studyId: string; dir: string; planSha256: string; epsilon: number; delta: number; report: JsonObject }): PlanRow {
    return toRow(
      this.db
        .prepare<[unknown[]], Raw>(
          `INSERT INTO release_plans (run_id, dataset_id, study_id, dir, plan_sha256, epsilon, delta, report, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        )
        .get([p.runId, p.datasetId, p.studyId, p.dir, p.planSha256, p.epsilon, p.delta, toJson(p.report, 'plan report'), this.now().toISOString()])!,
    );
  }

  get(id: number): PlanRow | undefined {
    const r = this.db.prepare<[number], Raw>('SELECT * FROM release_plans WHERE id = ?').get(id);
    return r && toRow(r);
  }

  byRun(runId: number): PlanRow | undefined {
    const r = this.db.prepare<[number], Raw>('SELECT * FROM release_plans WHERE run_id = ?').get(runId);
    return r && toRow(r);
  }

  /** The newest plan whose folder is `dir` (a CLI --out folder may be reused). */
  byDir(dir: string): PlanRow | undefined {
    const r = this.db.prepare<[string], Raw>('SELECT * FROM release_plans WHERE dir = ? ORDER BY id DESC LIMIT 1').get(dir);
    return r && toRow(r);
  }

  list(limit = 200): PlanRow[] {
    return this.db.prepare<[number], Raw>('SELECT * FROM release_plans ORDER BY id DESC LIMIT ?').all(limit).map(toRow);
  }

  /** Record the approval's outcome; call inside the transaction that charges ε. Once per plan (trigger). */
  release(id: number, o: { outcome: 'package' | 'nothing-sent'; packageSha256: string | null; approvers: readonly string[] }): void {
    this.db
      .prepare('UPDATE release_plans SET outcome = ?, package_sha256 = ?, approvers = ?, released_at = ? WHERE id = ?')
      .run(o.outcome, o.packageSha256, toJson([...o.approvers], 'approvers'), this.now().toISOString(), id);
  }
}
