import type Database from 'better-sqlite3';

export type ImageStatus = 'usable' | 'skipped';

export type ImageRow = {
  id: number;
  datasetId: number;
  scanId: number | null;
  /** Relative to the dataset root; never leaves the site. */
  relPath: string;
  contentSha256: string;
  label: string | null;
  bytes: number;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  skipReason: string | null;
};

export type ImageInput = Omit<ImageRow, 'id' | 'datasetId' | 'scanId'>;

type Raw = {
  id: number;
  dataset_id: number;
  scan_id: number | null;
  rel_path: string;
  content_sha256: string;
  label: string | null;
  bytes: number;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  skip_reason: string | null;
};

const toRow = (r: Raw): ImageRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  scanId: r.scan_id,
  relPath: r.rel_path,
  contentSha256: r.content_sha256,
  label: r.label,
  bytes: r.bytes,
  width: r.width,
  height: r.height,
  status: r.status,
  skipReason: r.skip_reason,
});

export class ImagesRepo {
  private readonly deleteStmt;
  private readonly insertStmt;
  private readonly listStmt;
  private readonly listByStatusStmt;

  constructor(private readonly db: Database.Database) {
    this.deleteStmt = db.prepare<[number]>('DELETE FROM images WHERE dataset_id = ?');
    this.insertStmt = db.prepare<[Omit<Raw, 'id'>]>(
      `INSERT INTO images (dataset_id, scan_id, rel_path, content_sha256, label, bytes, width, height, status, skip_reason)
       VALUES (@dataset_id, @scan_id, @rel_path, @content_sha256, @label, @bytes, @width, @height, @status, @skip_reason)`,
    );
    this.listStmt = db.prepare<[number], Raw>(
      'SELECT * FROM images WHERE dataset_id = ? ORDER BY rel_path',
    );
    this.listByStatusStmt = db.prepare<[number, ImageStatus], Raw>(
      'SELECT * FROM images WHERE dataset_id = ? AND status = ? ORDER BY rel_path',
    );
  }

  /** A scan's result replaces the dataset's image list, atomically. */
  replaceForDataset(datasetId: number, scanId: number | null, images: readonly ImageInput[]): void {
    this.db.transaction(() => {
      this.deleteStmt.run(datasetId);
      for (const i of images) {
        this.insertStmt.run({
          dataset_id: datasetId,
          scan_id: scanId,
          rel_path: i.relPath,
          content_sha256: i.contentSha256,
          label: i.label,
          bytes: i.bytes,
          width: i.width,
          height: i.height,
          status: i.status,
          skip_reason: i.skipReason,
        });
      }
    })();
  }

  list(datasetId: number, opts?: { status?: ImageStatus }): ImageRow[] {
    const rows = opts?.status
      ? this.listByStatusStmt.all(datasetId, opts.status)
      : this.listStmt.all(datasetId);
    return rows.map(toRow);
  }
}
