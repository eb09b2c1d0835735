import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { HttpError } from '../api/http-error';
import { tempPathIn } from '../../core/fs/durable-file';

export type ReceivedUpload = { tmpPath: string; sha256: string; bytes: number };

export function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    'package_too_large',
    `package exceeds the server's limit of ${limit} bytes`,
    'Prepare a smaller package (fewer rows, or f16 conditioning), or ask the coordinator to raise --max-package-bytes.',
    // The rest of the body is never read; closing lets the client stop sending.
    { connection: 'close' },
  );
}

async function writeAll(fh: fs.FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/**
 * Stream a request body into a temp file in `dir` while hashing it, never holding more than one
 * chunk in memory. The size limit is enforced per chunk: the first byte past `limit` stops the
 * upload (413) and deletes the temp file. The request stream is paused, not destroyed, so the
 * 413 can still be sent. The temp file is fsynced before this resolves.
 */
export async function receiveUpload(
  body: Readable,
  dir: string,
  limit: number,
): Promise<ReceivedUpload> {
  const tmpPath = tempPathIn(dir, 'incoming');
  const fh = await fs.open(tmpPath, 'wx', 0o600);
  const hash = createHash('sha256');
  let bytes = 0;
  let writing: Promise<void> = Promise.resolve();
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let ended = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onClose);
        // A late socket error on the abandoned body must not become an uncaught exception.
        body.on('error', () => undefined);
        if (err !== undefined) {
          body.pause();
          reject(err);
        } else resolve();
      };
      const onData = (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > limit) return finish(tooLarge(limit));
        hash.update(chunk);
        body.pause();
        writing = writing.then(() => writeAll(fh, chunk));
        writing.then(
          () => {
            if (!settled) body.resume();
          },
          (err: unknown) => finish(err),
        );
      };
      const onEnd = () => {
        ended = true;
        writing.then(
          () => finish(),
          (err: unknown) => finish(err),
        );
      };
      const onError = (err: Error) =>
        finish(
          // The body guard's 408 (too slow) says more than "interrupted".
          err instanceof HttpError
            ? err
            : new HttpError(
                400,
                'upload_interrupted',
                `upload failed: ${err.message}`,
                'Upload the package again.',
              ),
        );
      const onClose = () => {
        if (ended) return;
        finish(
          new HttpError(
            400,
            'upload_interrupted',
            'the client closed the connection before the upload finished',
            'Upload the package again.',
          ),
        );
      };
      body.on('data', onData);
      body.on('end', onEnd);
      body.on('error', onError);
      body.on('close', onClose);
      body.resume();
    });
    await fh.sync();
    await fh.close();
  } catch (err) {
    await writing.catch(() => undefined);
    await fh.close().catch(() => undefined);
    await fs.rm(tmpPath, { force: true });
    throw err;
  }
  return { tmpPath, sha256: hash.digest('hex'), bytes };
}
