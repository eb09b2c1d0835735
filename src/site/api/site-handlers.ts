import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { thumbnailPng } from '../../core/image/thumbnail';
import { JOB_NAMES, type SiteEvent, type SiteHandlers, type StudySummary, type AuditEntry, type PackagePreview } from '../../shared/site-api';
import { StudyManifest } from '../../shared/study';
import type { DeviceChoice } from '../../core/ort/execution-device';
import { Ledger } from '../ledger/ledger';
import type { UploadRow } from '../ledger/uploads-repo';
import { sitePaths } from '../site-home';
import { scanDataset } from '../dataset/scan-dataset';
import { preparePackage, type PrepareResult } from '../prepare/prepare-package';
import { enrollSite, clientForStudy } from '../client/enroll-site';
import { plainVault, type SiteKeyVault } from '../client/site-key-vault';
import { uploadPackage } from '../client/upload-package';
import { pullModel } from '../client/pull-model';
import { evaluateModel } from '../evaluate/evaluate-model';
import { loadSettings, saveSettings } from './site-settings';
import type { SiteModelDirs } from '../prepare/site-models';

/** Error with a code the UI can act on; `message` and `hint` are for people. */
export class SiteApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export type SiteBackendOptions = {
  home: string;
  /** How the site API key is kept in the ledger (desktop: sealed under the OS keychain key). */
  vault?: SiteKeyVault;
  /** How the shell turns the models setting ('tiny' or a folder) into model folders. */
  resolveModels: (setting: string) => Promise<SiteModelDirs & { tiny: boolean }>;
};

type PrepareJob = {
  controller: AbortController;
  done: Promise<PrepareResult>;
  result?: PrepareResult;
  error?: Error;
  studyId: string;
};

function verificationText(state: string, error: string | null): string {
  if (state === 'verified') return 'signature by the pinned key verified; every file checked by sha256';
  if (state === 'failed') return `refused: ${error ?? 'verification failed'}`;
  return 'not verified yet';
}

function auditEntry(r: UploadRow): AuditEntry {
  return {
    id: r.id,
    time: r.createdAt,
    packageSha256: r.packageSha256,
    bytes: r.bytes,
    server: r.serverUrl,
    studyId: r.studyId,
    approvers: r.approvers,
    status: r.status,
  };
}

/**
 * The site API behind the desktop app and the headless agent: one implementation, checked
 * against the shared contract by `satisfies SiteHandlers`. Runs in the backend process (the
 * utility process under Electron), never in main or the renderer.
 */
export function createSiteHandlers(o: SiteBackendOptions): {
  handlers: SiteHandlers;
  ledger: Ledger;
  close(): void;
} {
  mkdirSync(o.home, { recursive: true });
  const paths = sitePaths(o.home);
  const ledger = Ledger.open(paths.ledger);
  ledger.runs.failInterrupted();
  const jobs = new Map<string, PrepareJob>();
  const vault = o.vault ?? plainVault;

  const studyManifest = async (studyId: string): Promise<StudyManifest> => {
    const cacheFile = join(o.home, 'studies', `${studyId}.json`);
    try {
      const { client } = clientForStudy(ledger, studyId, vault);
      const m = await client.getStudy(studyId);
      mkdirSync(join(o.home, 'studies'), { recursive: true });
      writeFileSync(cacheFile, JSON.stringify(m));
      return m;
    } catch (e) {
      // Offline: the copy fetched at the last connection is enough to prepare a package.
      try {
        return StudyManifest.parse(JSON.parse(await readFile(cacheFile, 'utf8')));
      } catch {
        throw e;
      }
    }
  };

  const job = (runId: string): PrepareJob => {
    const j = jobs.get(runId);
    if (!j)
      throw new SiteApiFailure(
        'not_found',
        `No preparation ${runId} in this session.`,
        'Start a new preparation.',
      );
    return j;
  };

  const currentSettings = () => {
    const s = loadSettings(o.home);
    const e = ledger.enrollments.list()[0];
    return {
      dataHome: o.home,
      modelsDir: s.modelsDir,
      device: s.device,
      offline: s.offline,
      serverUrl: e?.serverUrl ?? null,
      siteId: e?.siteId ?? null,
      serverKeyFingerprint: e?.serverKeyFingerprint ?? null,
      tinyModels: s.modelsDir === 'tiny',
    };
  };

  const handlers = {
    async 'settings.get'() {
      return currentSettings();
    },
    async 'settings.update'(req) {
      saveSettings(o.home, { ...loadSettings(o.home), ...req });
      return currentSettings();
    },
    async 'connect.enroll'(req) {
      // The fingerprints typed from the coordinator's message are checked before anything is stored.
      const r = await enrollSite(ledger, req.serverUrl, req.token, {
        vault,
        ...(req.expectFingerprint ? { expectFingerprint: req.expectFingerprint } : {}),
        ...(req.expectCaFingerprint ? { expectCaFingerprint: req.expectCaFingerprint } : {}),
      });
      return { serverKeyFingerprint: r.serverKeyFingerprint, siteId: r.siteId, studies: r.studies, tlsCaFingerprint: r.tlsCaFingerprint };
    },
    async 'studies.list'() {
      const ids = [...new Set(ledger.enrollments.list().map((e) => e.studyId))];
      const studies: StudySummary[] = [];
      for (const id of ids) {
        const m = await studyManifest(id);
        studies.push({
          id: m.id,
          name: m.name,
          classes: m.classes,
          k: m.privacy.k,
          maxEpsilon: m.privacy.maxEpsilon,
          allowInstance: m.privacy.allowInstance,
        });
      }
      return { studies };
    },
    async 'datasets.pickFolder'() {
      throw new SiteApiFailure(
        'not_available',
        'There is no native folder picker here.',
        'Type the folder path instead.',
      );
    },
    async 'datasets.scan'(req, ctx) {
      const r = await scanDataset(req.dir, {
        ...(req.k ? { k: req.k } : {}),
        signal: ctx.signal,
        onProgress: (p) =>
          ctx.emit({ type: 'progress', job: JOB_NAMES.scan, progress: { ...p, stage: 'scan' } }),
      });
      return {
        root: r.root,
        layout: r.layout,
        images: r.images,
        classes: r.classes,
        skipped: r.skipped.map((s) => ({ path: s.path, reason: s.reason, detail: s.detail })),
        smallClasses: r.smallClasses,
      };
    },
    async 'prepare.start'(req, ctx) {
      const study = await studyManifest(req.studyId);
      const settings = loadSettings(o.home);
      const models = await o.resolveModels(settings.modelsDir);
      const { enrollment } = clientForStudy(ledger, req.studyId, vault);
      const runId = randomUUID();
      const controller = new AbortController();
      const emit = (e: SiteEvent) => ctx.emit(e);
      const done = preparePackage({
        ledger,
        dataDir: req.dataDir,
        study,
        siteId: enrollment.siteId,
        models,
        promptMode: req.promptMode,
        aggregation: req.aggregation,
        ...(req.k ? { k: req.k } : {}),
        ...(req.dpEpsilon ? { dpEpsilon: req.dpEpsilon } : {}),
        outDir: join(paths.packages, runId),
        device: settings.device as DeviceChoice,
        signal: controller.signal,
        onProgress: (progress) => emit({ type: 'progress', job: runId, progress }),
      });
      const j: PrepareJob = { controller, done, studyId: req.studyId };
      jobs.set(runId, j);
      done.then(
        (r) => {
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
      job(req.runId).controller.abort(new Error('cancelled by the operator'));
      return { ok: true as const };
    },
    async 'prepare.preview'(req) {
      const j = job(req.runId);
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
          const u = ledger.uploads.list({ search: r.sha256 }).find((x) => x.packageSha256 === r.sha256 && x.status === 'accepted');
          return u ? auditEntry(u) : null;
        })(),
      };
      return preview;
    },
    async 'images.thumbnail'(req) {
      const r = job(req.runId).result;
      const img = r?.localImages[req.imageId];
      if (!r || !img) throw new SiteApiFailure('not_found', 'No such image in this preparation.');
      // Thumbnails are made here and shown on this device only; they never enter a package.
      const png = await thumbnailPng(join(r.dataRoot, ...img.path.split('/')), 96);
      return { dataUrl: `data:image/png;base64,${png.toString('base64')}` };
    },
    async 'upload.approve'(req, ctx) {
      const r = job(req.runId).result;
      if (!r) throw new SiteApiFailure('not_ready', 'This preparation has no package yet.');
      const row = await uploadPackage(ledger, r.packagePath, {
        vault,
        approvers: [req.approver, ...(req.secondApprover ? [req.secondApprover] : [])],
        signal: ctx.signal,
        onProgress: (progress) =>
          ctx.emit({ type: 'progress', job: JOB_NAMES.upload(req.runId), progress }),
      });
      return auditEntry(row);
    },
    async 'models.list'(req, ctx) {
      const { client } = clientForStudy(ledger, req.studyId, vault);
      const remote = await client.listModels(req.studyId, ctx.signal).catch(() => []);
      const local = ledger.models.list(req.studyId);
      const versions = [
        ...new Set([...remote.map((m) => m.version), ...local.map((m) => m.version)]),
      ].sort((a, b) => b - a);
      return {
        models: versions.map((v) => {
          const row = local.find((m) => m.version === v);
          return {
            studyId: req.studyId,
            version: v,
            downloaded: Boolean(row),
            verified: row ? row.verified === 'verified' : null,
            verification: row ? verificationText(row.verified, row.verifyError) : null,
          };
        }),
      };
    },
    async 'models.pull'(req, ctx) {
      const r = await pullModel(ledger, req.studyId, {
        vault,
        ...(req.version ? { version: req.version } : {}),
        modelsRoot: join(paths.downloads, 'models'),
        signal: ctx.signal,
        onProgress: (progress) =>
          ctx.emit({ type: 'progress', job: JOB_NAMES.pull(req.studyId), progress }),
      });
      return {
        studyId: req.studyId,
        version: r.row.version,
        downloaded: true,
        verified: r.row.verified === 'verified',
        verification: `${verificationText(r.row.verified, r.row.verifyError)} (${r.manifest.files.length} files)`,
      };
    },
    async 'evaluate.run'(req, ctx) {
      const row = ledger.models.byVersion(req.studyId, req.version);
      if (!row || row.verified !== 'verified')
        throw new SiteApiFailure('not_downloaded', `Model v${req.version} of ${req.studyId} is not downloaded and verified on this computer.`, 'Pull it on the Models screen first.');
      const { enrollment } = clientForStudy(ledger, req.studyId, vault);
      const models = await o.resolveModels(loadSettings(o.home).modelsDir);
      const r = await evaluateModel({
        ledger,
        modelDir: row.dir,
        trust: { publicKeyPem: enrollment.serverPublicKey, pinnedFingerprint: enrollment.serverKeyFingerprint },
        dataDir: req.dataDir,
        clipDir: models.clip,
        device: loadSettings(o.home).device as DeviceChoice,
        outDir: join(paths.reports, 'evaluations', `${req.studyId}-v${req.version}-${Date.now()}`),
        tinyModels: models.tiny,
        signal: ctx.signal,
        onProgress: (progress) => ctx.emit({ type: 'progress', job: JOB_NAMES.evaluate(req.studyId), progress }),
      });
      const m = r.metrics;
      return {
        evaluationId: r.evaluationId,
        modelVersion: req.version,
        samples: m.samples,
        accuracy: m.accuracy,
        balancedAccuracy: m.balancedAccuracy,
        macroF1: m.macroF1,
        macroAuroc: m.macroAuroc,
        ece: m.ece,
        confusion: m.confusion,
        classes: m.perClass.map((c) => c.name),
        perClass: m.perClass.map((c) => ({ name: c.name, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
        calibration: m.eceBins.filter((b) => b.count > 0).map((b) => ({ confidence: b.confidence, accuracy: b.accuracy, count: b.count })),
        reportPaths: r.reportPaths,
        tinyModels: models.tiny,
      };
    },
    async 'evaluate.export'(req) {
      const ev = ledger.evaluations.get(req.evaluationId);
      if (!ev?.reportPath) throw new SiteApiFailure('not_found', `No evaluation #${req.evaluationId} with reports.`);
      // The reports were written when the evaluation ran; exporting hands out their folder's files.
      const dir = dirname(ev.reportPath);
      return { paths: (await readdir(dir)).map((f) => join(dir, f)) };
    },
    async 'audit.list'(req) {
      return {
        entries: ledger.uploads
          .list({ ...(req.search ? { search: req.search } : {}), limit: 500 })
          .map(auditEntry),
      };
    },
  } satisfies SiteHandlers;

  return {
    handlers,
    ledger,
    close() {
      for (const j of jobs.values()) j.controller.abort(new Error('the backend is shutting down'));
      ledger.close();
    },
  };
}
