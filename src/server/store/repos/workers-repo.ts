import type { RepoContext } from './repo-context';

export type WorkerRecord = { id: string; name: string; createdAt: string; revokedAt: string | null };

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

  private get db() {
    return this.c.db;
  }

  insert(w: { id: string; name: string; keySha256: string }): WorkerRecord {
    const createdAt = this.c.now();
    this.db
      .prepare('INSERT INTO workers (id, name, key_sha256, created_at) VALUES (?, ?, ?, ?)')
      .run(w.id, w.name, w.keySha256, createdAt);
    return { id: w.id, name: w.name, createdAt, revokedAt: null };
  }

  /** The worker an API key (by its sha256) belongs to, if it is not revoked. */
  forKey(keySha256: string): string | undefined {
    const r = this.db
      .prepare('SELECT id FROM workers WHERE key_sha256 = ? AND revoked_at IS NULL')
      .get(keySha256) as { id: string } | undefined;
    return r?.id;
  }

  list(): WorkerRecord[] {
    return (
      this.db
        .prepare('SELECT id, name, created_at, revoked_at FROM workers ORDER BY created_at, id')
        .all() as { id: string; name: string; created_at: string; revoked_at: string | null }[]
    ).map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  /** Revoke a worker's key; returns false when there is no such worker. */
  revoke(id: string): boolean {
    return (
      this.db
        .prepare('UPDATE workers SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?')
        .run(this.c.now(), id).changes === 1
    );
  }

  /** Record that `workerId` delivered this image; false when it was already recorded (a repeat). */
  addReceipt(k: ReceiptKey, workerId: string, batchId: string): boolean {
    return (
      this.db
        .prepare(
          `INSERT OR IGNORE INTO synthesis_receipts (round_id, package_sha256, row, image_index, worker_id, batch_id, stored_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(k.roundId, k.packageSha256, k.row, k.index, workerId, batchId, this.c.now())
        .changes === 1
    );
  }

  receiptCount(roundId: string): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM synthesis_receipts WHERE round_id = ?')
        .get(roundId) as { n: number }
    ).n;
  }

  /** Per-worker progress of a round, busiest first. */
  roundProgress(roundId: string): WorkerRoundProgress[] {
    const rows = this.db
      .prepare(
        `SELECT r.worker_id, w.name, COUNT(*) AS images, COUNT(DISTINCT r.batch_id) AS batches,
                MIN(r.stored_at) AS first_at, MAX(r.stored_at) AS last_at
         FROM synthesis_receipts r JOIN workers w ON w.id = r.worker_id
         WHERE r.round_id = ? GROUP BY r.worker_id, w.name ORDER BY images DESC, r.worker_id`,
      )
      .all(roundId) as {
      worker_id: string;
      name: string;
      images: number;
      batches: number;
      first_at: string;
      last_at: string;
    }[];
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
