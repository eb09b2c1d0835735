import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { z } from 'zod';
import { CONDITIONING_TOKENS, decodePackage, type EmbeddingPackage } from '../../shared/embedding-package';
import { RoundId } from '../../shared/server-api';
import {
  ImageParams,
  ImageQuery,
  ImageStoredResponse,
  ROWS_DIM_HEADER,
  RoundWorkersResponse,
  RowsQuery,
} from '../../shared/worker-api';
import { Sha256Hex } from '../../shared/model-ref';
import type { RemoteSynthesis } from '../jobs/remote-synthesis';
import { roundSyntheticDir } from '../store/data-layout';
import type { StoredPackage } from '../store/server-store';
import { expectedImage, imageFiles, isImageFinished, writeImageFiles } from '../synthesis/image-files';
import { imageSeed } from '../synthesis/image-seed';
import type { ApiDeps } from './api-deps';
import { HttpError, notFound } from './http-error';
import { type AnyRouteSpec, defineRoute } from './route-def';

/** A PNG is at most this big (a 2048² RGB image compresses far below it). */
const MAX_PNG_BYTES = 32 * 1024 * 1024;

async function readBody(body: unknown, limit: number): Promise<Buffer> {
  if (!(body instanceof Readable))
    throw new HttpError(
      415,
      'unsupported_media_type',
      'the image must be sent as application/octet-stream',
      'Set `Content-Type: application/octet-stream` and send the PNG bytes.',
    );
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit)
      throw new HttpError(413, 'image_too_large', `the image is over ${limit} bytes`, 'Send one PNG per request.');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * The /v1/worker API: a synthesis worker (its own key, `fgl server worker enroll`) fetches the
 * conditioning rows of a batch and returns each image as PNG. The server checks the image belongs
 * to a round that is synthesizing, to a package of that round, to a row and index that exist, and
 * that it came from the server's generator; it then writes the same PNG + sidecar as in-process
 * synthesis. A repeated image (a batch delivered twice) is answered `stored: false` and not
 * written again.
 */
export function workerRoutes(deps: ApiDeps, remote: RemoteSynthesis): AnyRouteSpec[] {
  const workers = deps.store.workers;
  // Decoded packages of running rounds; a few suffice (a round's batches go package by package).
  const decoded = new Map<string, Promise<EmbeddingPackage>>();
  const decode = (p: StoredPackage): Promise<EmbeddingPackage> => {
    let d = decoded.get(p.sha256);
    if (!d) {
      d = readFile(p.path).then((b) => decodePackage(new Uint8Array(b)));
      decoded.set(p.sha256, d);
      d.catch(() => decoded.delete(p.sha256));
      while (decoded.size > 4) decoded.delete(decoded.keys().next().value!);
    }
    return d;
  };
  // One write per image at a time: two deliveries of the same image race to one file set.
  const inFlight = new Map<string, Promise<unknown>>();

  async function synthesizingPackage(roundId: string, sha256: string) {
    const round = await deps.store.rounds.get(roundId);
    if (!round) throw notFound('round_not_found', `round "${roundId}" not found`);
    if (round.state !== 'synthesizing')
      throw new HttpError(
        409,
        'round_not_synthesizing',
        `round ${roundId} is ${round.state}, not synthesizing`,
        'Drop this batch: the round no longer needs it.',
      );
    const pkg = (await deps.store.rounds.packages(roundId)).find((p) => p.sha256 === sha256);
    if (!pkg) throw notFound('package_not_in_round', `package ${sha256} is not part of round ${roundId}`);
    return { round, pkg };
  }

  return [
    defineRoute({
      method: 'GET',
      url: '/v1/worker/rounds/:roundId/packages/:sha256/rows',
      tag: 'workers',
      summary: 'Conditioning rows [from, to) of a package of a synthesizing round, as float32',
      description:
        'Body: little-endian float32 `[to - from, 77, D]`; D is in the `x-fgl-dim` header. Only while the round ' +
        'is synthesizing and only for its packages.',
      auth: 'worker',
      params: z.object({ roundId: RoundId, sha256: Sha256Hex }),
      query: RowsQuery,
      responses: { 200: { description: 'Rows', contentType: 'application/octet-stream' } },
      handler: async ({ params, query, reply }) => {
        const { pkg } = await synthesizingPackage(params.roundId, params.sha256);
        const p = await decode(pkg);
        if (query.to > p.n)
          throw new HttpError(400, 'rows_out_of_range', `package has ${p.n} rows; asked for up to ${query.to}`);
        const size = CONDITIONING_TOKENS * p.dim;
        const rows = p.conditioning.subarray(query.from * size, query.to * size);
        return reply
          .header('content-type', 'application/octet-stream')
          .header(ROWS_DIM_HEADER, String(p.dim))
          .send(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength));
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/v1/worker/rounds/:roundId/images/:sha256/:row/:index',
      tag: 'workers',
      summary: 'Return one synthesized image (PNG); stored durably, once',
      description:
        '201 = stored now, 200 = already stored (a repeated batch: nothing written). 409 = the round is not ' +
        "synthesizing, or the worker's generator is not the server's. 400 = not a PNG of the study's size.",
      auth: 'worker',
      params: ImageParams,
      query: ImageQuery,
      rawBody: { contentType: 'application/octet-stream', description: 'image.png' },
      responses: {
        201: { description: 'Stored', schema: ImageStoredResponse },
        200: { description: 'Already stored', schema: ImageStoredResponse },
      },
      handler: async ({ params, query, caller, req, reply }) => {
        if (caller.kind !== 'worker') throw new Error('unreachable: route is worker-only');
        const { round, pkg } = await synthesizingPackage(params.roundId, params.sha256);
        const png = await readBody(req.body, MAX_PNG_BYTES);
        const digest = await remote.modelDigest();
        if (query.modelDigest !== digest)
          throw new HttpError(
            409,
            'generator_mismatch',
            `the image was made with generator ${query.modelDigest.slice(0, 12)}…, the server's is ${digest.slice(0, 12)}…`,
            "Give the worker the same models folder as the server's (--models).",
          );
        const study = (await deps.store.studies.get(round.studyId))!.manifest;
        const g = study.generator;
        const p = await decode(pkg);
        if (params.row >= p.n || params.index >= g.imagesPerRow)
          throw new HttpError(
            400,
            'image_out_of_range',
            `package has ${p.n} rows and the study ${g.imagesPerRow} images per row; got row ${params.row}, index ${params.index}`,
          );
        const meta = await sharp(png)
          .metadata()
          .catch(() => null);
        if (!meta || meta.format !== 'png' || meta.width !== g.width || meta.height !== g.height)
          throw new HttpError(
            400,
            'invalid_image',
            `expected a ${g.width}×${g.height} PNG, got ${meta ? `${meta.format} ${meta.width}×${meta.height}` : 'bytes that are not an image'}`,
            "Send the generator's output encoded as PNG.",
          );
        const label = p.labels[params.row]!;
        const expect = expectedImage({
          studyId: study.id,
          packageSha256: pkg.sha256,
          image: {
            row: params.row,
            index: params.index,
            label,
            seed: imageSeed(remote.baseSeed, pkg.sha256, params.row, params.index),
          },
          settings: g,
          modelDigest: digest,
        });
        const files = imageFiles(roundSyntheticDir(deps.layout, round.id), pkg.sha256, params.row, params.index);
        const key = { roundId: round.id, packageSha256: pkg.sha256, row: params.row, index: params.index };
        const lockKey = files.png;
        while (inFlight.has(lockKey)) await inFlight.get(lockKey)!.catch(() => undefined);
        const work = (async () => {
          const already = await isImageFinished(files, expect);
          if (!already)
            await writeImageFiles(files, png, {
              ...expect,
              ...(study.classes[label] !== undefined ? { className: study.classes[label] } : {}),
              device: query.device,
            });
          // After the files: a receipt always means a durable image (a crash in between re-adds it).
          await workers.addReceipt(key, caller.workerId, query.batch);
          return !already;
        })();
        inFlight.set(lockKey, work);
        let stored: boolean;
        try {
          stored = await work;
        } finally {
          inFlight.delete(lockKey);
        }
        remote.imageStored(key);
        const sha = createHash('sha256').update(png).digest('hex');
        return reply.code(stored ? 201 : 200).send({ stored, sha256: sha });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/v1/rounds/:roundId/workers',
      tag: 'workers',
      summary: 'Per-worker progress of a round: images stored, batches, rate',
      auth: 'admin',
      params: z.object({ roundId: RoundId }),
      responses: { 200: { description: 'Progress', schema: RoundWorkersResponse } },
      handler: async ({ params }) => {
        if (!await deps.store.rounds.get(params.roundId))
          throw notFound('round_not_found', `round "${params.roundId}" not found`);
        return {
          roundId: params.roundId,
          images: await workers.receiptCount(params.roundId),
          workers: await workers.roundProgress(params.roundId),
        };
      },
    }),
  ];
}
