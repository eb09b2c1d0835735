import type { ModelVersion } from '../../../shared/server-api';
import type { RepoContext } from './repo-context';

export type StoredModel = ModelVersion & { dir: string };

export type ModelEvaluation = {
  studyId: string;
  version: number;
  siteId: string;
  metrics: unknown;
  receivedAt: string;
};

type ModelRow = {
  study_id: string;
  version: number;
  round_id: string;
  dir: string;
  manifest_sha256: string;
  published_at: string;
};

/**
 * Published model versions (table `models`; their signed folders are written before the row) and
 * the aggregate metrics sites opted in to report for them (table `model_evaluations`).
 */
export class ModelsRepo {
  constructor(private readonly c: RepoContext) {}

  private toModel(r: ModelRow): StoredModel {
    return {
      studyId: r.study_id,
      version: r.version,
      roundId: r.round_id,
      manifestSha256: r.manifest_sha256,
      publishedAt: r.published_at,
      dir: this.c.abs(r.dir),
    };
  }

  async latestVersion(studyId: string): Promise<number> {
    const r = await this.c.db.get<{ v: number | null }>(
      'SELECT MAX(version) AS v FROM models WHERE study_id = ?',
      [studyId],
    );
    return r?.v ?? 0;
  }

  async insert(m: StoredModel): Promise<void> {
    await this.c.db.run(
      'INSERT INTO models (study_id, version, round_id, dir, manifest_sha256, published_at) VALUES (?, ?, ?, ?, ?, ?)',
      [m.studyId, m.version, m.roundId, this.c.rel(m.dir), m.manifestSha256, m.publishedAt],
    );
  }

  async list(studyId: string): Promise<StoredModel[]> {
    const rows = await this.c.db.all<ModelRow>(
      'SELECT * FROM models WHERE study_id = ? ORDER BY version',
      [studyId],
    );
    return rows.map((r) => this.toModel(r));
  }

  async get(studyId: string, version: number): Promise<StoredModel | undefined> {
    const r = await this.c.db.get<ModelRow>(
      'SELECT * FROM models WHERE study_id = ? AND version = ?',
      [studyId, version],
    );
    return r && this.toModel(r);
  }

  /** A site's opt-in aggregate metrics for a model version; a new report replaces its last one. */
  async putEvaluation(
    studyId: string,
    version: number,
    siteId: string,
    metrics: unknown,
  ): Promise<{ receivedAt: string }> {
    const receivedAt = this.c.now();
    await this.c.db.run(
      `INSERT INTO model_evaluations (study_id, version, site_id, metrics, received_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (study_id, version, site_id) DO UPDATE SET metrics = excluded.metrics, received_at = excluded.received_at`,
      [studyId, version, siteId, JSON.stringify(metrics), receivedAt],
    );
    return { receivedAt };
  }

  async listEvaluations(studyId: string, siteId?: string): Promise<ModelEvaluation[]> {
    const rows = await this.c.db.all<{
      study_id: string;
      version: number;
      site_id: string;
      metrics: string;
      received_at: string;
    }>(
      `SELECT study_id, version, site_id, metrics, received_at FROM model_evaluations WHERE study_id = ? ${siteId ? 'AND site_id = ?' : ''} ORDER BY version, site_id`,
      siteId ? [studyId, siteId] : [studyId],
    );
    return rows.map((r) => ({
      studyId: r.study_id,
      version: r.version,
      siteId: r.site_id,
      metrics: JSON.parse(r.metrics) as unknown,
      receivedAt: r.received_at,
    }));
  }
}
