import type Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';
import type { Clock } from './ledger-json';

export type EmbeddingEntry = { contentSha256: string; vector: Float32Array };

type Raw = { content_sha256: string; vector: Buffer };

/** Copy a BLOB into an aligned Float32Array (the Buffer may sit at any offset of a shared pool). */
function toVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * Cache of local CLIP image embeddings, keyed by (image content sha256, model sha256). Stored as
 * little-endian float32 BLOBs (every platform we ship on is little-endian). Never leaves the site.
 */
export class EmbeddingsRepo {
  private readonly getStmt;
  private readonly putStmt;
  private readonly countStmt;

  constructor(
    private readonly db: Database.Database,
    private readonly now: Clock,
  ) {
    this.getStmt = db.prepare<[string, string], Raw>(
      'SELECT content_sha256, vector FROM clip_embeddings WHERE content_sha256 = ? AND model_sha256 = ?',
    );
    this.putStmt = db.prepare<[string, string, number, Buffer, string]>(
      `INSERT INTO clip_embeddings (content_sha256, model_sha256, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (content_sha256, model_sha256) DO UPDATE SET dim = excluded.dim, vector = excluded.vector`,
    );
    this.countStmt = db.prepare<[string], { n: number }>(
      'SELECT count(*) AS n FROM clip_embeddings WHERE model_sha256 = ?',
    );
  }

  get(contentSha256: string, modelSha256: string): Float32Array | undefined {
    const r = this.getStmt.get(contentSha256, modelSha256);
    return r && toVector(r.vector);
  }

  /** The cached vectors among `contentSha256s` (missing ones are simply absent from the map). */
  getMany(contentSha256s: Iterable<string>, modelSha256: string): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const sha of contentSha256s) {
      const r = this.getStmt.get(sha, modelSha256);
      if (r) out.set(sha, toVector(r.vector));
    }
    return out;
  }

  /** Store vectors in one transaction (all or none). */
  putMany(modelSha256: string, entries: Iterable<EmbeddingEntry>): number {
    const at = this.now().toISOString();
    return this.db.transaction(() => {
      let n = 0;
      for (const e of entries) {
        if (e.vector.length === 0) {
          throw new LedgerError(
            'bad_value',
            `embedding for ${e.contentSha256} is empty`,
            'Store the model output as is.',
          );
        }
        const blob = Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength);
        this.putStmt.run(e.contentSha256, modelSha256, e.vector.length, blob, at);
        n++;
      }
      return n;
    })();
  }

  count(modelSha256: string): number {
    return this.countStmt.get(modelSha256)!.n;
  }
}
