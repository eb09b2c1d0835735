import type { PackageRecord } from '../../../shared/server-api';
import type { RepoContext } from './repo-context';

export type StoredPackage = PackageRecord & { path: string };

export type PackageRow = {
  sha256: string;
  study_id: string;
  site_id: string;
  bytes: number;
  rows: number;
  metadata: string;
  path: string;
  received_at: string;
};

export function toPackage(c: RepoContext, r: PackageRow): StoredPackage {
  return {
    sha256: r.sha256,
    studyId: r.study_id,
    siteId: r.site_id,
    bytes: r.bytes,
    rows: r.rows,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    receivedAt: r.received_at,
    path: c.abs(r.path),
  };
}

/**
 * Embedding packages sites uploaded (table `packages`), keyed by the sha256 of their bytes. The
 * file is written durably BEFORE its row is inserted (intake/accept-package.ts).
 */
export class PackagesRepo {
  constructor(private readonly c: RepoContext) {}

  get(sha256: string): StoredPackage | undefined {
    const r = this.c.db.prepare('SELECT * FROM packages WHERE sha256 = ?').get(sha256) as
      PackageRow | undefined;
    return r && toPackage(this.c, r);
  }

  /** Insert unless these bytes are already stored; returns whether a row was added. */
  insert(p: StoredPackage): boolean {
    const res = this.c.db
      .prepare(
        `INSERT OR IGNORE INTO packages (sha256, study_id, site_id, bytes, rows, metadata, path, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        p.sha256,
        p.studyId,
        p.siteId,
        p.bytes,
        p.rows,
        JSON.stringify(p.metadata),
        this.c.rel(p.path),
        p.receivedAt,
      );
    return res.changes === 1;
  }

  /** Total DP ε of the packages a site has had accepted for a study (basic composition: ε adds). */
  epsilonAccepted(studyId: string, siteId: string): number {
    const r = this.c.db
      .prepare(
        `SELECT coalesce(sum(CAST(json_extract(metadata, '$.dp_epsilon') AS REAL)), 0) AS eps
           FROM packages WHERE study_id = ? AND site_id = ?`,
      )
      .get(studyId, siteId) as { eps: number };
    return r.eps;
  }

  /** A study's packages (or one site's), in the order they arrived. */
  list(studyId: string, siteId?: string): StoredPackage[] {
    const rows = (
      siteId === undefined
        ? this.c.db
            .prepare('SELECT * FROM packages WHERE study_id = ? ORDER BY received_at, sha256')
            .all(studyId)
        : this.c.db
            .prepare(
              'SELECT * FROM packages WHERE study_id = ? AND site_id = ? ORDER BY received_at, sha256',
            )
            .all(studyId, siteId)
    ) as PackageRow[];
    return rows.map((r) => toPackage(this.c, r));
  }
}
