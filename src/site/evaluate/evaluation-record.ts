import { z } from 'zod';
import { ModelRef, Sha256Hex } from '../../shared/model-ref';

const Num = z.number();

/** classification-metrics.ts `Metrics`, as a schema so a stored evaluation is checked when read back. */
export const MetricsSchema = z.object({
  samples: z.number().int().nonnegative(),
  accuracy: Num,
  balancedAccuracy: Num,
  macroF1: Num,
  macroAuroc: Num.nullable(),
  ece: Num,
  eceBins: z.array(z.object({ lower: Num, upper: Num, count: z.number().int().nonnegative(), confidence: Num, accuracy: Num })),
  confusion: z.array(z.array(z.number().int().nonnegative())),
  perClass: z.array(
    z.object({ name: z.string(), precision: Num, recall: Num, f1: Num, support: z.number().int().nonnegative(), auroc: Num.nullable() }),
  ),
});

/**
 * One offline evaluation: the JSON report and the ledger's `evaluations.metrics` column hold this
 * same object. It stays on the site (it names the local dataset folder); what may leave is
 * `aggregateMetricsForServer(record.metrics)` only.
 */
export const EvaluationRecord = z.object({
  schemaVersion: z.literal(1),
  /** evaluation-report.ts `EvaluationInfo`. */
  info: z.object({
    studyId: z.string(),
    modelVersion: z.number().int().positive(),
    dataset: z.string(),
    device: z.string(),
    createdAt: z.string(),
    tinyModels: z.boolean().optional(),
  }),
  model: z.object({
    studyId: z.string(),
    version: z.number().int().positive(),
    roundId: z.string(),
    kind: z.enum(['probe', 'cnn']),
    manifestSha256: Sha256Hex,
    backbone: ModelRef.nullable(),
    classes: z.array(z.string()),
  }),
  dataset: z.object({
    name: z.string(),
    /** Absolute local path: never sent anywhere. */
    root: z.string(),
    /** Usable images the scan found. */
    scanned: z.number().int().nonnegative(),
    /** Images whose label the model knows: the metrics' sample count. */
    evaluated: z.number().int().nonnegative(),
    /** Files the scan could not use (unreadable, not an image, …). */
    skippedFiles: z.number().int().nonnegative(),
    /** Dataset labels the model has no class for; their images are left out of the metrics. */
    excluded: z.array(z.object({ label: z.string(), images: z.number().int().nonnegative() })),
    /** Model classes with no image in this dataset (their recall is undefined). */
    classesWithoutImages: z.array(z.string()),
    /** Dataset labels matched to a model class of a different spelling (case, `_`, `-`). */
    renamed: z.array(z.object({ label: z.string(), class: z.string() })),
  }),
  devices: z.record(z.string(), z.string()),
  metrics: MetricsSchema,
});
export type EvaluationRecord = z.infer<typeof EvaluationRecord>;
