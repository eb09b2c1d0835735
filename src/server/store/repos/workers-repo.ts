import type { RepoContext } from './repo-context';

export type WorkerRecord = {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
};

/** One image a worker returned, identified the way its files are named. */
export type ReceiptKey = { roundId: string; packageSha256: string; row: number; index: number };

/** What one worker did for a round: images stored (first delivery only), when, and its rate. */
export type WorkerRoundProgress = {
  workerId: string;
  name: string;
  images: number;
  batches: number;
  firstAt: string;
  lastAt: string;
  /** Images per second between its first and last stored image; null until it stored two. */
  ratePerSec: number | null;
};

/**
 * Synthesis workers on other machines (tables `workers`, `synthesis_receipts` of migration 4):
 * worker keys, stored only as sha256 like site keys, and one receipt per returned image.
 */
export class WorkersRepo {
  constructor(private readonly c: RepoContext) {}

  async insert(w: { id: string; name: string; keySha256: string }): Promise<WorkerRecord> {
    const createdAt = this.c.now();
    await this.c.db.run(
      'INSERT INTO workers (id, name, key_sha256, created_at) VALUES (?, ?, ?, ?)',
      [w.id, w.name, w.keySha256, createdAt],
    );
    return { id: w.id, name: w.name, createdAt, revokedAt: null };
  }

  /** The worker an API key (by its sha256) belongs to, if it is not revoked. */
  async forKey(keySha256: string): Promise<string | undefined> {
    const r = await this.c.db.get<{ id: string }>(
      'SELECT id FROM workers WHERE key_sha256 = ? AND revoked_at IS NULL',
      [keySha256],
    );
    return r?.id;
  }

  async list(): Promise<WorkerRecord[]> {
    const rows = await this.c.db.all<{
      id: string;
      name: string;
      created_at: string;
      revoked_at: string | null;
    }>('SELECT id, name, created_at, revoked_at FROM workers ORDER BY created_at, id');
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      revokedAt: r.revoked_at,
    }));
  }

  /** Revoke a worker's key; returns false when there is no such worker. */
  async revoke(id: string): Promise<boolean> {
    return (
      (await this.c.db.run('UPDATE workers SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?', [
        this.c.now(),
        id,
      ])) === 1
    );
  }

  /** Record that `workerId` delivered this image; false when it was already recorded (a repeat). */
  async addReceipt(k: ReceiptKey, workerId: string, batchId: string): Promise<boolean> {
    const changes = await this.c.db.run(
      `INSERT INTO synthesis_receipts (round_id, package_sha256, row, image_index, worker_id, batch_id, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      [k.roundId, k.packageSha256, k.row, k.index, workerId, batchId, this.c.now()],
    );
    return changes === 1;
  }

  async receiptCount(roundId: string): Promise<number> {
    const r = await this.c.db.get<{ n: number }>(
      'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM synthesis_receipts WHERE round_id = ?',
      [roundId],
    );
    return r!.n;
  }

  /** Per-worker progress of a round, busiest first. */
  async roundProgress(roundId: string): Promise<WorkerRoundProgress[]> {
    const rows = await this.c.db.all<{
      worker_id: string;
      name: string;
      images: number;
      batches: number;
      first_at: string;
      last_at: string;
    }>(
      `SELECT r.worker_id, w.name, CAST(COUNT(*) AS INTEGER) AS images,
              CAST(COUNT(DISTINCT r.batch_id) AS INTEGER) AS batches,
              MIN(r.stored_at) AS first_at, MAX(r.stored_at) AS last_at
       FROM synthesis_receipts r JOIN workers w ON w.id = r.worker_id
       WHERE r.round_id = ? GROUP BY r.worker_id, w.name ORDER BY images DESC, r.worker_id`,
      [roundId],
    );
    return rows.map((r) => {
      const seconds = (Date.parse(r.last_at) - Date.parse(r.first_at)) / 1000;
      return {
        workerId: r.worker_id,
        name: r.name,
        images: r.images,
        batches: r.batches,
        firstAt: r.first_at,
        lastAt: r.last_at,
        ratePerSec: r.images > 1 && seconds > 0 ? (r.images - 1) / seconds : null,
      };
    });
  }
}
