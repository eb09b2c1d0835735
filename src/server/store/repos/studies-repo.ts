import { StudyManifest } from '../../../shared/study';
import type { StudySummary } from '../../../shared/server-api';
import type { RepoContext } from './repo-context';

export type StoredStudy = { id: string; manifest: StudyManifest; createdAt: string };

type Raw = { id: string; manifest: string; created_at: string };

/** Studies (table `studies`): the signed-off manifest each round trains against. */
export class StudiesRepo {
  constructor(private readonly c: RepoContext) {}

  async insert(manifest: StudyManifest): Promise<void> {
    await this.c.db.run('INSERT INTO studies (id, manifest, created_at) VALUES (?, ?, ?)', [
      manifest.id,
      JSON.stringify(manifest),
      manifest.createdAt,
    ]);
  }

  async get(id: string): Promise<StoredStudy | undefined> {
    const row = await this.c.db.get<Raw>(
      'SELECT id, manifest, created_at FROM studies WHERE id = ?',
      [id],
    );
    if (!row) return undefined;
    return {
      id: row.id,
      manifest: StudyManifest.parse(JSON.parse(row.manifest)),
      createdAt: row.created_at,
    };
  }

  /** Every study, or only those `siteId` is enrolled in. */
  async list(siteId?: string): Promise<StudySummary[]> {
    const rows =
      siteId === undefined
        ? await this.c.db.all<Raw>(
            'SELECT id, manifest, created_at FROM studies ORDER BY created_at, id',
          )
        : await this.c.db.all<Raw>(
            `SELECT s.id, s.manifest, s.created_at FROM studies s
             JOIN site_studies ss ON ss.study_id = s.id WHERE ss.site_id = ? ORDER BY s.created_at, s.id`,
            [siteId],
          );
    return rows.map((r) => {
      const m = JSON.parse(r.manifest) as { name: string; classes: string[] };
      return { id: r.id, name: m.name, classes: m.classes, createdAt: r.created_at };
    });
  }
}
