import { z } from 'zod';
import { Aggregation, PromptMode } from './study';
import { ProgressEvent } from './progress';
import { SiteModelsInstall } from './site-model-bundle';

/**
 * The site API the UI talks to: one zod schema per request and response, the single source of
 * the types on every side. The desktop app carries it over Electron IPC (preload → main →
 * utility process), the headless agent over HTTP/WebSocket; the renderer sees neither, only
 * `SiteApiClient`. Every request is validated where it is handled, since a compromised renderer
 * is untrusted input.
 */

import { DeviceChoice } from './device';

export const Settings = z.object({
  dataHome: z.string(),
  modelsDir: z.string(),
  device: DeviceChoice,
  offline: z.boolean(),
  serverUrl: z.string().nullable(),
  siteId: z.string().nullable(),
  serverKeyFingerprint: z.string().nullable(),
  tinyModels: z.boolean(),
});
export type Settings = z.infer<typeof Settings>;

export const ScanSummary = z.object({
  root: z.string(),
  layout: z.enum(['folder', 'manifest']),
  images: z.number().int(),
  classes: z.array(z.object({ name: z.string(), count: z.number().int() })),
  skipped: z.array(z.object({ path: z.string(), reason: z.string(), detail: z.string().optional() })),
  smallClasses: z.array(z.object({ name: z.string(), count: z.number().int(), k: z.number().int() })),
});
export type ScanSummary = z.infer<typeof ScanSummary>;

/** A study as the site lists it: its classes and privacy floor (the server's own list entry is `StudySummary` in server-api.ts). */
export const SiteStudy = z.object({ id: z.string(), name: z.string(), classes: z.array(z.string()), k: z.number().int(), maxEpsilon: z.number().nullable(), allowInstance: z.boolean() });
export type SiteStudy = z.infer<typeof SiteStudy>;

export const PrepareRequest = z.object({
  dataDir: z.string().min(1),
  studyId: z.string().min(1),
  promptMode: PromptMode,
  aggregation: Aggregation,
  k: z.number().int().min(1).optional(),
  dpEpsilon: z.number().positive().nullable().optional(),
  /** The operator's folder → class choices (null = leave out); other folders follow the class-name rule. */
  classMap: z.record(z.string().max(1000), z.string().max(500).nullable()).optional(),
});
export type PrepareRequest = z.infer<typeof PrepareRequest>;

export const OutgoingRow = z.object({
  index: z.number().int(),
  label: z.string(),
  prompt: z.string().nullable(),
  /** Distinct prompts averaged into the row (a cluster of several images' prompts). */
  prompts: z.array(z.string()),
  images: z.number().int(),
  /** Distinct patients / pictures among the images: what k and DP count (identical and near-duplicate files once). */
  units: z.number().int().optional(),
  blocked: z.boolean(),
  checks: z.array(z.object({ name: z.string(), passed: z.boolean(), detail: z.string() })),
});

export const PackagePreview = z.object({
  runId: z.string(),
  /** null for a DP plan: its noise is drawn, and its package written, only on approval. */
  sha256: z.string().nullable(),
  bytes: z.number().int().nullable(),
  /** A DP plan awaiting approval: no noise drawn, no ε charged yet; rows are every public bin. */
  plan: z.boolean().default(false),
  rows: z.array(OutgoingRow),
  dims: z.object({ rows: z.number().int(), tokens: z.number().int(), dim: z.number().int(), dtype: z.string() }),
  blockedRows: z.number().int(),
  redactions: z.number().int(),
  epsilon: z.number().nullable(),
  projection: z.object({
    outgoing: z.array(z.tuple([z.number(), z.number()])),
    local: z.array(z.object({ x: z.number(), y: z.number(), label: z.string(), imageId: z.number().int() })),
  }),
  reportMarkdown: z.string(),
  tinyModels: z.boolean(),
  /** The audit entry when this package was already uploaded (one approval per package). */
  uploaded: z.lazy(() => AuditEntry).nullable(),
});
export type PackagePreview = z.infer<typeof PackagePreview>;

export const AuditEntry = z.object({
  id: z.number().int(),
  time: z.string(),
  packageSha256: z.string(),
  bytes: z.number().int(),
  server: z.string(),
  studyId: z.string(),
  approvers: z.array(z.string()),
  status: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** A model version as the site holds it: downloaded and verified or not (the server's published entry is `ModelVersion` in server-api.ts). */
export const SiteModel = z.object({
  studyId: z.string(),
  version: z.number().int(),
  downloaded: z.boolean(),
  verified: z.boolean().nullable(),
  verification: z.string().nullable(),
});
export type SiteModel = z.infer<typeof SiteModel>;

export const EvaluationResult = z.object({
  evaluationId: z.number().int(),
  modelVersion: z.number().int(),
  samples: z.number().int(),
  accuracy: z.number(),
  balancedAccuracy: z.number(),
  macroF1: z.number(),
  macroAuroc: z.number().nullable(),
  ece: z.number(),
  confusion: z.array(z.array(z.number().int())),
  classes: z.array(z.string()),
  perClass: z.array(z.object({ name: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() })),
  calibration: z.array(z.object({ confidence: z.number(), accuracy: z.number(), count: z.number().int() })),
  reportPaths: z.object({ json: z.string(), csv: z.string(), markdown: z.string(), html: z.string() }),
  tinyModels: z.boolean(),
});
export type EvaluationResult = z.infer<typeof EvaluationResult>;

/**
 * A package prepared on this site, as the ledger keeps it across reloads and restarts:
 * planned (a DP plan: no noise drawn, no ε charged until it is approved), prepared (not approved), approved (audit row written, not yet accepted: retry it), uploading
 * (being sent now), uploaded (the server accepted it), failed (the server refused it).
 */
export const PackageState = z.enum(['planned', 'prepared', 'approved', 'uploading', 'uploaded', 'failed']);
export type PackageState = z.infer<typeof PackageState>;
export const PreparedPackage = z.object({
  /** The app's id: a folder name, or `run-<n>` for one prepared with `fgl site prepare`. */
  runId: z.string(),
  studyId: z.string(),
  /** null while a DP plan awaits approval. */
  sha256: z.string().nullable(),
  bytes: z.number().int().nullable(),
  rows: z.number().int(),
  createdAt: z.string(),
  state: PackageState,
  /** The latest audit entry for these bytes, if it was approved. */
  upload: z.lazy(() => AuditEntry).nullable(),
});
export type PreparedPackage = z.infer<typeof PreparedPackage>;

const none = z.object({}).strict();
const ok = z.object({ ok: z.literal(true) });

/** Request/response pairs, by method name. */
export const siteApi = {
  'settings.get': { req: none, res: Settings },
  'settings.update': { req: Settings.pick({ device: true, offline: true, modelsDir: true }).partial().strict(), res: Settings },
  'connect.enroll': {
    req: z
      .object({
        serverUrl: z.string().min(1).max(2000),
        token: z.string().min(8).max(500),
        /** Given by the coordinator with the token: refuse on mismatch. */
        expectFingerprint: z.string().max(200).optional(),
        /** For https servers with their own CA (`fgl server start --tls`). */
        expectCaFingerprint: z.string().max(200).optional(),
      })
      .strict(),
    res: z.object({ serverKeyFingerprint: z.string(), siteId: z.string(), studies: z.array(z.string()), tlsCaFingerprint: z.string().nullable() }),
  },
  'studies.list': { req: none, res: z.object({ studies: z.array(SiteStudy) }) },
  'datasets.pickFolder': { req: none, res: z.object({ path: z.string().nullable() }) },
  'datasets.scan': { req: z.object({ dir: z.string().min(1).max(4096), k: z.number().int().min(1).optional() }).strict(), res: ScanSummary },
  'prepare.start': { req: PrepareRequest.strict(), res: z.object({ runId: z.string() }) },
  'prepare.cancel': { req: z.object({ runId: z.string() }).strict(), res: ok },
  'prepare.preview': { req: z.object({ runId: z.string() }).strict(), res: PackagePreview },
  'images.thumbnail': { req: z.object({ runId: z.string(), imageId: z.number().int().min(0) }).strict(), res: z.object({ dataUrl: z.string() }) },
  'packages.list': { req: none, res: z.object({ packages: z.array(PreparedPackage) }) },
  'upload.resume': { req: z.object({ runId: z.string() }).strict(), res: AuditEntry },
  'upload.approve': { req: z.object({ runId: z.string(), approver: z.string().min(1).max(200), secondApprover: z.string().min(1).max(200).optional(), confirm: z.literal(true) }).strict(), res: AuditEntry },
  'models.list': { req: z.object({ studyId: z.string() }).strict(), res: z.object({ models: z.array(SiteModel) }) },
  'models.pull': { req: z.object({ studyId: z.string(), version: z.number().int().optional() }).strict(), res: SiteModel },
  /** The models this site runs (encoder, CLIP, captioner), from the study server; progress as JOB_NAMES.siteModels. */
  'models.siteFetch': { req: z.object({ studyId: z.string() }).strict(), res: SiteModelsInstall },
  /** The same from a folder or USB bundle, verified against the study's digests. */
  'models.siteImport': { req: z.object({ studyId: z.string(), dir: z.string().min(1).max(4096) }).strict(), res: SiteModelsInstall },
  'evaluate.run': { req: z.object({ studyId: z.string(), version: z.number().int(), dataDir: z.string().min(1), classMap: PrepareRequest.shape.classMap }).strict(), res: EvaluationResult },
  'evaluate.export': { req: z.object({ evaluationId: z.number().int() }).strict(), res: z.object({ paths: z.array(z.string()) }) },
  'audit.list': { req: z.object({ search: z.string().max(200).optional() }).strict(), res: z.object({ entries: z.array(AuditEntry) }) },
} as const;

export type SiteMethod = keyof typeof siteApi;
export type SiteRequest<M extends SiteMethod> = z.input<(typeof siteApi)[M]['req']>;
export type SiteResponse<M extends SiteMethod> = z.output<(typeof siteApi)[M]['res']>;

/** What the backend implements; `satisfies SiteHandlers` keeps implementation and contract in step. */
export type SiteHandlers = { [M in SiteMethod]: (req: z.output<(typeof siteApi)[M]['req']>, ctx: { signal: AbortSignal; emit: (e: SiteEvent) => void }) => Promise<SiteResponse<M>> };

/** Events pushed from the backend: progress of long work, and the backend's own health. */
export const SiteEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), job: z.string(), progress: ProgressEvent }),
  z.object({ type: z.literal('job-finished'), job: z.string(), ok: z.boolean(), error: z.string().optional() }),
  z.object({ type: z.literal('backend'), state: z.enum(['ready', 'crashed', 'restarted']), message: z.string() }),
]);
export type SiteEvent = z.infer<typeof SiteEvent>;

/** Errors cross the boundary as data, never as thrown objects with stacks. */
export const SiteApiError = z.object({ code: z.string(), message: z.string(), hint: z.string().optional() });
export type SiteApiError = z.infer<typeof SiteApiError>;

/** What a transport returns for one call. */
export const SiteCallResult = z.union([z.object({ ok: z.literal(true), data: z.unknown() }), z.object({ ok: z.literal(false), error: SiteApiError })]);
export type SiteCallResult = z.infer<typeof SiteCallResult>;

export function isSiteMethod(m: unknown): m is SiteMethod {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(siteApi, m);
}

/** The one client the renderer uses, whatever carries the calls. */
export type SiteApiClient = {
  call<M extends SiteMethod>(method: M, req: SiteRequest<M>): Promise<SiteResponse<M>>;
  /** Subscribe to backend events; call the returned function to unsubscribe. */
  on(listener: (e: SiteEvent) => void): () => void;
};

export const SITE_METHODS = Object.keys(siteApi) as SiteMethod[];

/**
 * The `job` of progress events for calls that are not a preparation run (a run's job is its
 * runId). Both the backend and the renderer use these, so a rename is one edit.
 */
export const JOB_NAMES = {
  scan: 'scan',
  pull: (studyId: string) => `pull-${studyId}`,
  siteModels: (studyId: string) => `site-models-${studyId}`,
  upload: (runId: string) => `upload-${runId}`,
  evaluate: (studyId: string) => `evaluate-${studyId}`,
} as const;
