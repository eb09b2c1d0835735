import type { Metrics } from './classification-metrics';
import type { SharedMetrics } from '../../shared/server-api';
import { EvaluationError } from './evaluation-error';

/** What a site may opt in to send about an evaluation: aggregate numbers, nothing per image. */
export type ServerMetrics = SharedMetrics;

/**
 * The opt-in aggregate the server may receive. Fields are picked one by one (never spread) so a
 * field later added to Metrics, such as per-image scores, cannot leak through this function.
 * Left out on purpose: the confusion matrix and the calibration bins (small cells can single out
 * images), per-class AUROC, dataset names and paths, and every class supported by fewer than the
 * study's k images (counted in `suppressedClasses`): its recall would tell how the model did on
 * those few images. Fewer than k images in all: nothing is shared.
 */
export function aggregateMetricsForServer(m: Metrics, k: number): ServerMetrics {
  if (m.samples < k)
    throw new EvaluationError(
      `Only ${m.samples} images were evaluated, fewer than the study's k = ${k}: sharing their metrics would tell how the model did on those few images.`,
      'Evaluate on at least k images to share metrics, or keep them local.',
    );
  const kept = m.perClass.filter((c) => c.support >= k);
  return {
    samples: m.samples,
    accuracy: m.accuracy,
    balancedAccuracy: m.balancedAccuracy,
    macroF1: m.macroF1,
    macroAuroc: m.macroAuroc,
    ece: m.ece,
    perClass: kept.map((c) => ({ name: c.name, precision: c.precision, recall: c.recall, f1: c.f1, support: c.support })),
    suppressedClasses: m.perClass.length - kept.length,
  };
}
