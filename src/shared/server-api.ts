import { z } from 'zod';
import { Sha256Hex } from './model-ref';
import { StudyManifest } from './study';

/*
 * Wire schemas of the server's /v1 API: one source of truth for the server's route validation,
 * the OpenAPI document, the site client (src/site/client) and the tests.
 */

export const StudyId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'study id: lowercase letters, digits and -');
export const SiteId = z.string().regex(/^site-[a-z0-9]{6,40}$/, 'site id: site-<letters/digits>');
export const RoundId = z
  .string()
  .regex(/^round-[a-z0-9-]{4,60}$/, 'round id: round-<letters/digits>');
export const IsoTime = z.iso.datetime();

export const HealthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
  serverKeyFingerprint: Sha256Hex,
});

/**
 * A positive integer in a URL, written the one canonical way (`1`, `42`): `1e0`, `0x1`, `01`,
 * `+1` or `1.0` are refused rather than read as 1, so one resource has exactly one URL.
 */
export const CanonicalPositiveInt = z
  .string()
  .regex(/^[1-9][0-9]{0,8}$/, 'a positive integer without sign, leading zeros, exponent or decimals')
  .transform(Number);

/**
 * GET /v1/server-key: the server's Ed25519 public key, public and redeeming nothing. A site
 * checks its fingerprint against the one the coordinator gave BEFORE it spends its one-time token.
 */
export const ServerKeyResponse = z.object({
  serverPublicKey: z.string().min(1).max(10_000),
  serverKeyFingerprint: Sha256Hex,
});
export type ServerKeyResponse = z.infer<typeof ServerKeyResponse>;

/** POST /v1/studies: a study manifest without id and createdAt (the server assigns both). */
export const CreateStudyBody = StudyManifest.omit({ id: true, createdAt: true }).extend({
  schemaVersion: z.literal(1).default(1),
});
export type CreateStudyBody = z.input<typeof CreateStudyBody>;

export const StudySummary = z.object({
  id: StudyId,
  name: z.string(),
  classes: z.array(z.string()),
  createdAt: IsoTime,
});
export type StudySummary = z.infer<typeof StudySummary>;

export const SiteSummary = z.object({
  id: SiteId,
  name: z.string(),
  createdAt: IsoTime,
  revokedAt: IsoTime.nullable(),
});
export type SiteSummary = z.infer<typeof SiteSummary>;

export const StudyDetail = z.object({
  id: StudyId,
  manifest: StudyManifest,
  createdAt: IsoTime,
  /** Enrolled sites: admins see all of them, a site sees only itself. */
  sites: z.array(SiteSummary),
});
export type StudyDetail = z.infer<typeof StudyDetail>;

export const CreateEnrollmentTokenBody = z.object({
  siteName: z.string().trim().min(1).max(100),
  /** Lifetime of the one-time token; default 24 h, at most 30 days. */
  ttlSec: z
    .number()
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(86_400),
});

export const EnrollmentTokenResponse = z.object({
  token: z.string(),
  studyId: StudyId,
  siteName: z.string(),
  expiresAt: IsoTime,
  serverKeyFingerprint: Sha256Hex,
});
export type EnrollmentTokenResponse = z.infer<typeof EnrollmentTokenResponse>;

export const EnrollBody = z.object({ token: z.string().min(16).max(200) });

export const EnrollResponse = z.object({
  siteId: SiteId,
  siteName: z.string(),
  /** Returned once, never stored in clear; null when an already-enrolled site joined another study with its key. */
  apiKey: z.string().nullable(),
  studies: z.array(StudyId),
  serverPublicKey: z.string(),
  serverKeyFingerprint: Sha256Hex,
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

/** GET /v1/studies/:id/sites (admin): every site of a study with its state. */
export const StudySiteRecord = z.object({
  siteId: SiteId,
  name: z.string(),
  state: z.enum(['active', 'revoked']),
  enrolledAt: IsoTime,
  revokedAt: IsoTime.nullable(),
  /** Active API keys (0 after a revoke, 1 after a re-issued token is redeemed). */
  activeKeys: z.number().int().nonnegative(),
  packages: z.number().int().nonnegative(),
  lastPackageAt: IsoTime.nullable(),
});
export type StudySiteRecord = z.infer<typeof StudySiteRecord>;
export const StudySiteList = z.object({ sites: z.array(StudySiteRecord) });

/** POST /v1/studies/:id/sites/:siteId/enrollment-tokens (admin): a new one-time token for a known site. */
export const ReissueTokenBody = z
  .object({ ttlSec: z.number().int().min(1).max(30 * 86_400).default(86_400) })
  .default({ ttlSec: 86_400 });

export const RevokeSiteResponse = z.object({
  siteId: SiteId,
  revokedAt: IsoTime,
  keysRevoked: z.number().int().nonnegative(),
});

export const PackageRecord = z.object({
  sha256: Sha256Hex,
  studyId: StudyId,
  siteId: SiteId,
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  /** The package's safetensors `__metadata__` as stored (flat string map). */
  metadata: z.record(z.string(), z.string()),
  receivedAt: IsoTime,
});
export type PackageRecord = z.infer<typeof PackageRecord>;

export const PackageUploadResponse = z.object({
  package: PackageRecord,
  /** false when these exact bytes were already stored (the upload was a no-op). */
  created: z.boolean(),
});

export const RoundState = z.enum(['collecting', 'synthesizing', 'training', 'published', 'failed']);
export type RoundState = z.infer<typeof RoundState>;

export const RoundProgress = z.object({
  stage: z.string(),
  done: z.number().nonnegative(),
  total: z.number().nonnegative(),
  ratePerSec: z.number().nonnegative().nullable(),
  etaSec: z.number().nonnegative().nullable(),
  updatedAt: IsoTime,
});
export type RoundProgress = z.infer<typeof RoundProgress>;

export const RoundStatus = z.object({
  id: RoundId,
  studyId: StudyId,
  state: RoundState,
  progress: RoundProgress.nullable(),
  error: z.string().nullable(),
  /**
   * Packages the round trains on (fixed when synthesis starts; until then, the study's current
   * count). A site is shown only its own packages, never how many the other sites sent.
   */
  packages: z.number().int().nonnegative(),
  modelVersion: z.number().int().positive().nullable(),
  runRequestedAt: IsoTime.nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  finishedAt: IsoTime.nullable(),
});
export type RoundStatus = z.infer<typeof RoundStatus>;

export const StartRoundBody = z
  .object({
    /** Start synthesis right away (when the server has its synthesis and training stages wired). */
    run: z.boolean().default(true),
  })
  .default({ run: true });

export const StartRoundResponse = z.object({
  round: RoundStatus,
  started: z.boolean(),
  note: z.string().optional(),
});

export const ModelVersion = z.object({
  studyId: StudyId,
  version: z.number().int().positive(),
  roundId: z.string(),
  manifestSha256: Sha256Hex,
  publishedAt: IsoTime,
});
export type ModelVersion = z.infer<typeof ModelVersion>;

export const ModelVersionList = z.object({ models: z.array(ModelVersion) });
export const StudyList = z.object({ studies: z.array(StudySummary) });
export const PackageList = z.object({ packages: z.array(PackageRecord) });

const Ratio = z.number().min(0).max(1);

/**
 * Aggregate evaluation metrics a site may share, only on explicit opt-in: no confusion matrix,
 * no calibration bins, nothing per image (`.strict()` refuses any extra field). Per-class rows
 * need a support of at least the study's k (the server refuses smaller ones); the site leaves
 * such classes out and counts them in `suppressedClasses`.
 */
export const SharedMetrics = z
  .object({
    samples: z.number().int().nonnegative(),
    accuracy: Ratio,
    balancedAccuracy: Ratio,
    macroF1: Ratio,
    macroAuroc: Ratio.nullable(),
    ece: Ratio,
    perClass: z
      .array(z.object({ name: z.string().max(100), precision: Ratio, recall: Ratio, f1: Ratio, support: z.number().int().nonnegative() }).strict())
      .max(1000),
    /** Classes left out because fewer than the study's k local images support them. */
    suppressedClasses: z.number().int().nonnegative().optional(),
  })
  .strict();
export type SharedMetrics = z.infer<typeof SharedMetrics>;

export const SharedMetricsRecord = z.object({
  studyId: StudyId,
  version: z.number().int().positive(),
  siteId: SiteId,
  metrics: SharedMetrics,
  receivedAt: IsoTime,
});
export const SharedMetricsList = z.object({ evaluations: z.array(SharedMetricsRecord) });
