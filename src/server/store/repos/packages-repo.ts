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

  async get(sha256: string): Promise<StoredPackage | undefined> {
    const r = await this.c.db.get<PackageRow>('SELECT * FROM packages WHERE sha256 = ?', [sha256]);
    return r && toPackage(this.c, r);
  }

  /** Insert unless these bytes are already stored; returns whether a row was added. */
  async insert(p: StoredPackage): Promise<boolean> {
    const changes = await this.c.db.run(
      `INSERT INTO packages (sha256, study_id, site_id, bytes, rows, metadata, path, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [
        p.sha256,
        p.studyId,
        p.siteId,
        p.bytes,
        p.rows,
        JSON.stringify(p.metadata),
        this.c.rel(p.path),
        p.receivedAt,
      ],
    );
    return changes === 1;
  }

  /**
   * `insert`, after `check` accepted the ε the site already has accepted for the study, in one
   * transaction that holds the site's row: two parallel uploads of one site (on any replica)
   * cannot both pass the check. `check` throws to refuse. Bytes already stored (a parallel upload
   * of the same package won) are not checked again: nothing is added.
   */
  insertWithinBudget(p: StoredPackage, check: (epsilonAccepted: number) => void): Promise<boolean> {
    return this.c.db.transaction(async (tx) => {
      await tx.get(`SELECT id FROM sites WHERE id = ?${tx.dialect.forUpdate}`, [p.siteId]);
      const repo = new PackagesRepo(this.c.on(tx));
      if (await tx.get('SELECT sha256 FROM packages WHERE sha256 = ?', [p.sha256])) return false;
      check(await repo.epsilonAccepted(p.studyId, p.siteId));
      return repo.insert(p);
    });
  }

  /** Total DP ε of the packages a site has had accepted for a study (basic composition: ε adds). */
  async epsilonAccepted(studyId: string, siteId: string): Promise<number> {
    const r = await this.c.db.get<{ eps: number }>(
      `SELECT coalesce(sum(${this.c.db.dialect.jsonNumber('metadata', 'dp_epsilon')}), 0) AS eps
         FROM packages WHERE study_id = ? AND site_id = ?`,
      [studyId, siteId],
    );
    return r!.eps;
  }

  /** A study's packages (or one site's), in the order they arrived. */
  async list(studyId: string, siteId?: string): Promise<StoredPackage[]> {
    const rows =
      siteId === undefined
        ? await this.c.db.all<PackageRow>(
            'SELECT * FROM packages WHERE study_id = ? ORDER BY received_at, sha256',
            [studyId],
          )
        : await this.c.db.all<PackageRow>(
            'SELECT * FROM packages WHERE study_id = ? AND site_id = ? ORDER BY received_at, sha256',
            [studyId, siteId],
          );
    return rows.map((r) => toPackage(this.c, r));
  }
}
