import { createReadStream } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from './byte-range';
import { HttpError } from './http-error';

/**
 * Send a file with HTTP range support: 200 (whole), 206 (one range), 416 (range past the end),
 * 304 (If-None-Match hit). ETag is the file's sha256 from the signed manifest, so a client can
 * resume a download and still check the bytes against the manifest.
 */
export function sendFileWithRanges(
  req: FastifyRequest,
  reply: FastifyReply,
  file: { path: string; bytes: number; sha256: string; contentType: string },
): FastifyReply {
  const etag = `"${file.sha256}"`;
  reply
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('cache-control', 'private, max-age=0, must-revalidate');
  const inm = req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*'))
    return reply.code(304).send();

  let range = parseByteRange(req.headers.range, file.bytes);
  const ifRange = req.headers['if-range'];
  // A stale If-Range means the client's partial copy is of other bytes: send everything.
  if (ifRange !== undefined && String(ifRange).trim() !== etag) range = null;
  if (range === 'unsatisfiable')
    throw new HttpError(
      416,
      'range_not_satisfiable',
      `requested range ${req.headers.range ?? ''} is outside the file (${file.bytes} bytes)`,
      'Request a range within the file size, or omit Range to download it whole.',
      { 'content-range': `bytes */${file.bytes}` },
    );
  reply.type(file.contentType);
  if (range === null) {
    reply.code(200).header('content-length', String(file.bytes));
    return reply.send(createReadStream(file.path));
  }
  reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${file.bytes}`)
    .header('content-length', String(range.end - range.start + 1));
  return reply.send(createReadStream(file.path, { start: range.start, end: range.end }));
}
