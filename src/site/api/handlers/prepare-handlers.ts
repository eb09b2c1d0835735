import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { thumbnailPng } from '../../../core/image/thumbnail';
import { JOB_NAMES, type PackagePreview, type PackageState, type PreparedPackage, type SiteEvent } from '../../../shared/site-api';
import { clientForStudy } from '../../client/enroll-site';
import { resumeUpload, uploadPackage } from '../../client/upload-package';
import type { UploadRow } from '../../ledger/uploads-repo';
import { preparePackage } from '../../prepare/prepare-package';
import { SiteApiFailure } from '../site-api-failure';
import { loadSettings } from '../site-settings';
import { auditEntry, LOCAL_IMAGES_FILE, packageDir, runIdOf, type HandlerSlice, type PrepareJob, type SiteContext } from './site-context';

function latestUpload(c: SiteContext, sha256: string): UploadRow | undefined {
  return c.ledger.uploads.list({ search: sha256, limit: 50 }).find((u) => u.packageSha256 === sha256);
}

function packageState(c: SiteContext, sha256: string, u: UploadRow | undefined): PackageState {
  if (c.uploading.has(sha256)) return 'uploading';
  if (!u) return 'prepared';
  if (u.status === 'accepted') return 'uploaded';
  if (u.status === 'rejected' || u.status === 'failed') return 'failed';
  return 'approved';
}

/** Marks the package as being sent while `send` runs, for `packages.list`. */
async function sending<T>(c: SiteContext, sha256: string, send: () => Promise<T>): Promise<T> {
  c.uploading.add(sha256);
  try {
    return await send();
  } finally {
    c.uploading.delete(sha256);
  }
}

/** Prepare: a package from a dataset, its preview and thumbnails, and the approved upload. */
export function prepareHandlers(c: SiteContext) {
  return {
    async 'prepare.start'(req, ctx) {
      const study = await c.studyManifest(req.studyId);
      const settings = loadSettings(c.home);
      const models = await c.resolveModels(settings.modelsDir);
      const { enrollment } = clientForStudy(c.ledger, req.studyId, c.vault);
      const runId = randomUUID();
      const controller = new AbortController();
      const emit = (e: SiteEvent) => ctx.emit(e);
      const done = preparePackage({
        ledger: c.ledger,
        dataDir: req.dataDir,
        study,
        siteId: enrollment.siteId,
        models,
        promptMode: req.promptMode,
        aggregation: req.aggregation,
        ...(req.k ? { k: req.k } : {}),
        ...(req.dpEpsilon ? { dpEpsilon: req.dpEpsilon } : {}),
        ...(req.classMap ? { classMap: req.classMap } : {}),
        outDir: packageDir(c.paths, runId),
        device: settings.device,
        signal: controller.signal,
        onProgress: (progress) => emit({ type: 'progress', job: runId, progress }),
      });
      const j: PrepareJob = { controller, done, studyId: req.studyId };
      c.jobs.set(runId, j);
      done.then(
        async (r) => {
          // Kept beside the package so thumbnails still work after a reload or restart (local only).
          await writeFile(join(packageDir(c.paths, runId), LOCAL_IMAGES_FILE), JSON.stringify({ dataRoot: r.dataRoot, images: r.localImages })).catch(() => undefined);
          j.result = r;
          emit({ type: 'job-finished', job: runId, ok: true });
        },
        (e: Error) => {
          j.error = e;
          emit({
            type: 'job-finished',
            job: runId,
            ok: false,
            error: controller.signal.aborted ? 'Cancelled.' : e.message,
          });
        },
      );
      return { runId };
    },
    async 'prepare.cancel'(req) {
      (await c.job(req.runId)).controller.abort(new Error('cancelled by the operator'));
      return { ok: true as const };
    },
    async 'prepare.preview'(req) {
      const j = await c.job(req.runId);
      const r = await j.done.catch(() => undefined);
      if (!r)
        throw new SiteApiFailure(
          'prepare_failed',
          j.error?.message ?? 'The preparation failed.',
          (j.error as { hint?: string } | undefined)?.hint,
        );
      const rep = r.report;
      const preview: PackagePreview = {
        runId: req.runId,
        sha256: r.sha256,
        bytes: r.bytes,
        rows: rep.rows.map((x) => ({
          index: x.index,
          label: x.label,
          prompt: x.prompt,
          prompts: x.prompts,
          images: x.images,
          units: x.units,
          blocked: x.blocked,
          checks: x.checks,
        })),
        dims: {
          rows: rep.outgoing.shape[0],
          tokens: rep.outgoing.shape[1],
          dim: rep.outgoing.shape[2],
          dtype: rep.outgoing.dtype,
        },
        blockedRows: rep.rows.filter((x) => x.blocked).length,
        redactions: rep.phi?.redacted ?? 0,
        epsilon: rep.dp?.epsilon ?? null,
        projection: { outgoing: rep.projection.outgoing, local: rep.projection.local },
        reportMarkdown: await readFile(r.reportMarkdownPath, 'utf8'),
        tinyModels: rep.tinyModels,
        uploaded: (() => {
          const u = c.ledger.uploads.list({ search: r.sha256 }).find((x) => x.packageSha256 === r.sha256 && x.status === 'accepted');
          return u ? auditEntry(u) : null;
        })(),
      };
      return preview;
    },
    async 'images.thumbnail'(req) {
      const r = (await c.job(req.runId)).result;
      const img = r?.localImages[req.imageId];
      if (!r || !img) throw new SiteApiFailure('not_found', 'No such image in this preparation.');
      // Thumbnails are made here and shown on this device only; they never enter a package.
      let png: Buffer;
      try {
        png = await thumbnailPng(join(r.dataRoot, ...img.path.split('/')), 96);
      } catch (e) {
        // libvips' own words are for the log, not the operator.
        const gone = (e as Error).message.includes('missing') || (e as NodeJS.ErrnoException).code === 'ENOENT';
        throw new SiteApiFailure(
          'thumbnail_unavailable',
          gone ? `No thumbnail: ${img.path} is no longer in the folder.` : `No thumbnail: ${img.path} could not be decoded for a preview.`,
          'The folder changed since the preparation, or the format has no preview here; prepare again if you changed the folder.',
        );
      }
      return { dataUrl: `data:image/png;base64,${png.toString('base64')}` };
    },
    async 'upload.approve'(req, ctx) {
      const r = (await c.job(req.runId)).result;
      if (!r) throw new SiteApiFailure('not_ready', 'This preparation has no package yet.');
      // One approval per package: an approved upload that has not gone through is retried, not approved again.
      if (latestUpload(c, r.sha256)?.status === 'pending')
        throw new SiteApiFailure('already_approved', 'This package is already approved; its upload has not finished.', 'Retry the upload from the list of prepared packages.');
      const row = await sending(c, r.sha256, () =>
        uploadPackage(c.ledger, r.packagePath, {
          vault: c.vault,
          approvers: [req.approver, ...(req.secondApprover ? [req.secondApprover] : [])],
          signal: ctx.signal,
          onProgress: (progress) =>
            ctx.emit({ type: 'progress', job: JOB_NAMES.upload(req.runId), progress }),
        }),
      );
      return auditEntry(row);
    },
    async 'upload.resume'(req, ctx) {
      const r = (await c.job(req.runId)).result;
      const pending = r && latestUpload(c, r.sha256);
      if (!r || pending?.status !== 'pending')
        throw new SiteApiFailure('nothing_to_resume', 'This package has no approved upload waiting to be sent.', pending?.status === 'accepted' ? 'It was uploaded already.' : 'Approve it first.');
      const row = await sending(c, r.sha256, () =>
        resumeUpload(c.ledger, pending, {
          vault: c.vault,
          signal: ctx.signal,
          onProgress: (progress) =>
            ctx.emit({ type: 'progress', job: JOB_NAMES.upload(req.runId), progress }),
        }),
      );
      return auditEntry(row);
    },
    async 'packages.list'() {
      const packages: PreparedPackage[] = [];
      for (const p of c.ledger.packages.list({ limit: 200 })) {
        const runId = runIdOf(c.paths, p.path);
        const run = c.ledger.runs.get(p.runId);
        if (!runId || !run) continue; // prepared with the CLI into a folder of its own choosing
        const u = latestUpload(c, p.sha256);
        packages.push({ runId, studyId: run.studyId, sha256: p.sha256, bytes: p.bytes, rows: p.rows, createdAt: p.createdAt, state: packageState(c, p.sha256, u), upload: u ? auditEntry(u) : null });
      }
      return { packages };
    },
  } satisfies HandlerSlice<
    'prepare.start' | 'prepare.cancel' | 'prepare.preview' | 'images.thumbnail' | 'upload.approve' | 'upload.resume' | 'packages.list'
  >;
}
