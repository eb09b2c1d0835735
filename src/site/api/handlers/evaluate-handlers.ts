import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { JOB_NAMES } from '../../../shared/site-api';
import { clientForStudy } from '../../client/enroll-site';
import { evaluateModel } from '../../evaluate/evaluate-model';
import { SiteApiFailure } from '../site-api-failure';
import { loadSettings } from '../site-settings';
import type { HandlerSlice, SiteContext } from './site-context';

/** Evaluate: a verified model on local labelled data, offline, and its reports. */
export function evaluateHandlers(c: SiteContext) {
  return {
    async 'evaluate.run'(req, ctx) {
      const row = c.ledger.models.byVersion(req.studyId, req.version);
      if (!row || row.verified !== 'verified')
        throw new SiteApiFailure('not_downloaded', `Model v${req.version} of ${req.studyId} is not downloaded and verified on this computer.`, 'Pull it on the Models screen first.');
      const { enrollment } = clientForStudy(c.ledger, req.studyId, c.vault);
      const models = await c.resolveModels(loadSettings(c.home).modelsDir);
      const r = await evaluateModel({
        ledger: c.ledger,
        modelDir: row.dir,
        trust: { publicKeyPem: enrollment.serverPublicKey, pinnedFingerprint: enrollment.serverKeyFingerprint },
        dataDir: req.dataDir,
        ...(req.classMap ? { classMap: req.classMap } : {}),
        clipDir: models.clip,
        device: loadSettings(c.home).device,
        outDir: join(c.paths.reports, 'evaluations', `${req.studyId}-v${req.version}-${Date.now()}`),
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
        classes: m.perClass.map((x) => x.name),
        perClass: m.perClass.map((x) => ({ name: x.name, precision: x.precision, recall: x.recall, f1: x.f1, support: x.support })),
        calibration: m.eceBins.filter((b) => b.count > 0).map((b) => ({ confidence: b.confidence, accuracy: b.accuracy, count: b.count })),
        reportPaths: r.reportPaths,
        tinyModels: models.tiny,
      };
    },
    async 'evaluate.export'(req) {
      const ev = c.ledger.evaluations.get(req.evaluationId);
      if (!ev?.reportPath) throw new SiteApiFailure('not_found', `No evaluation #${req.evaluationId} with reports.`);
      // The reports were written when the evaluation ran; exporting hands out their folder's files.
      const dir = dirname(ev.reportPath);
      return { paths: (await readdir(dir)).map((f) => join(dir, f)) };
    },
  } satisfies HandlerSlice<'evaluate.run' | 'evaluate.export'>;
}
