import type { Metrics } from './classification-metrics';
import type { SharedMetrics } from '../../shared/server-api';

/** What a site may opt in to send about an evaluation: aggregate numbers, nothing per image. */
export type ServerMetrics = SharedMetrics;

/**
 * The opt-in aggregate the server may receive. Fields are picked one by one (never spread) so a
 * field later added to Metrics, such as per-image scores, cannot leak through this function.
 * Left out on purpose: the confusion matrix and the calibration bins (small cells can single out
 * images), per-class AUROC, dataset names and paths.
 */
export function aggregateMetricsForServer(m: Metrics): ServerMetrics {
  return {
    samples: m.samples,
    accuracy: m.accuracy,
    balancedAccuracy: m.balancedAccuracy,
    macroF1: m.macroF1,
    macroAuroc: m.macroAuroc,
    ece: m.ece,
    perClass: m.perClass.map((c) => ({ name: c.name, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
  };
}
