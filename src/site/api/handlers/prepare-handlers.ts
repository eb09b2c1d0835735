import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { thumbnailPng } from '../../../core/image/thumbnail';
import { JOB_NAMES, type PackagePreview, type PackageState, type PreparedPackage, type SiteEvent } from '../../../shared/site-api';
import { clientForStudy } from '../../client/enroll-site';
import { resumeUpload, uploadPackage } from '../../client/upload-package';
import type { UploadRow } from '../../ledger/uploads-repo';
import { PrepareError, preparePackage } from '../../prepare/prepare-package';
import { releasePlan } from '../../prepare/release-plan';
import { SiteApiFailure } from '../site-api-failure';
import { loadSettings } from '../site-settings';
import { appRunId, auditEntry, LOCAL_IMAGES_FILE, packageDir, type HandlerSlice, type PrepareJob, type SiteContext } from './site-context';

function latestUpload(c: SiteContext, sha256: string): UploadRow | undefined {
  return c.ledger.uploads.list({ search: sha256, limit: 50 }).find((u) => u.packageSha256 === sha256);
}

function packageState(c: SiteContext, sha256: string | null, u: UploadRow | undefined): PackageState {
  if (sha256 === null) return 'planned';
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
        ...(req.dpEpsilon ? { machine: c.machine() } : {}),
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
      await j.done.catch(() => undefined);
      // j.result, not the promise: an approved DP plan has become its package.
      const r = j.result;
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
        plan: r.plan !== null && r.sha256 === null,
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
          const sha = r.sha256;
          const u = sha === null ? undefined : c.ledger.uploads.list({ search: sha }).find((x) => x.packageSha256 === sha && x.status === 'accepted');
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
      const j = await c.job(req.runId);
      let r = j.result;
      if (!r) throw new SiteApiFailure('not_ready', 'This preparation has no package yet.');
      const approvers = [req.approver, ...(req.secondApprover ? [req.secondApprover] : [])];
      if (r.plan && r.sha256 === null) {
        // A DP plan: approving it draws the noise (once), charges ε durably, writes the package;
        // only then is anything sent. The enrollment is checked first, so a site that could not
        // send does not spend ε on a package it cannot upload.
        clientForStudy(c.ledger, j.studyId, c.vault);
        try {
          const rel = await releasePlan({ ledger: c.ledger, planId: r.plan.id, approvers, machine: c.machine(), signal: ctx.signal });
          r = j.result = { ...r, sha256: rel.sha256, bytes: rel.bytes, packagePath: rel.packagePath, report: rel.report };
        } catch (e) {
          if (e instanceof PrepareError) throw new SiteApiFailure('approval_refused', e.message, e.hint);
          throw e;
        }
      }
      const sha = r.sha256!;
      // One approval per package: an approved upload that has not gone through is retried, not approved again.
      if (latestUpload(c, sha)?.status === 'pending')
        throw new SiteApiFailure('already_approved', 'This package is already approved; its upload has not finished.', 'Retry the upload from the list of prepared packages.');
      const file = r.packagePath;
      const row = await sending(c, sha, () =>
        uploadPackage(c.ledger, file, {
          vault: c.vault,
          approvers,
          signal: ctx.signal,
          onProgress: (progress) =>
            ctx.emit({ type: 'progress', job: JOB_NAMES.upload(req.runId), progress }),
        }),
      );
      return auditEntry(row);
    },
    async 'upload.resume'(req, ctx) {
      const r = (await c.job(req.runId)).result;
      const pending = r?.sha256 ? latestUpload(c, r.sha256) : undefined;
      if (!r?.sha256 || pending?.status !== 'pending')
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
      // Packages and DP plans not yet approved, from the app and from `fgl site prepare` alike
      // (one ledger): the CLI's are named run-<id>, as they live in a folder the operator chose.
      for (const p of c.ledger.packages.list({ limit: 200 })) {
        const run = c.ledger.runs.get(p.runId);
        if (!run) continue;
        const u = latestUpload(c, p.sha256);
        packages.push({ runId: appRunId(c.paths, run.id, p.path), studyId: run.studyId, sha256: p.sha256, bytes: p.bytes, rows: p.rows, createdAt: p.createdAt, state: packageState(c, p.sha256, u), upload: u ? auditEntry(u) : null });
      }
      for (const p of c.ledger.plans.list(200)) {
        if (p.outcome !== null) continue; // approved: listed as its package (or nothing was sent)
        const report = p.report as { outgoing?: { rows?: number } };
        packages.push({ runId: appRunId(c.paths, p.runId, join(p.dir, 'plan.json')), studyId: p.studyId, sha256: null, bytes: null, rows: report.outgoing?.rows ?? 0, createdAt: p.createdAt, state: 'planned', upload: null });
      }
      packages.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      return { packages };
    },
  } satisfies HandlerSlice<
    'prepare.start' | 'prepare.cancel' | 'prepare.preview' | 'images.thumbnail' | 'upload.approve' | 'upload.resume' | 'packages.list'
  >;
}
