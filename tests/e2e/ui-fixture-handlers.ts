import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { mulberry32, uniform32 } from '../../src/core/random/generators';
import type {
  AuditEntry,
  EvaluationResult,
  PackagePreview,
  Settings,
  SiteEvent,
  SiteHandlers,
  SiteRequest,
} from '../../src/shared/site-api';

/**
 * A scripted site backend for the UI-only walkthrough: contract-valid answers (the agent checks
 * every response against the zod contract, so drift fails the test), with the few controls a
 * test needs to see intermediate states (a preparation that runs until released).
 * It is NOT the real pipeline; the real end-to-end test uses src/site/api/site-handlers.ts.
 */
export const FIXTURE = {
  enrollToken: 'enroll-token-123',
  serverUrl: 'https://fgl.example-hospital.org',
  fingerprint: createHash('sha256').update('fixture-server-key').digest('hex'),
  siteId: 'site-7',
  study: {
    id: 'chest-2025',
    name: 'Chest X-ray pilot',
    classes: ['normal', 'pneumonia', 'effusion'],
    k: 5,
    maxEpsilon: null,
    allowInstance: false,
  },
  dataDir: '/data/chest-xray',
  missingDir: '/data/missing',
  /** Scans with nothing usable: every file skipped. */
  emptyDir: '/data/exports',
  /** Folders named unlike the study's classes: `Normal` (same by the rule), `Pneumonia_cases`, `misc`. */
  messyDir: '/data/messy',
  messyCounts: { Normal: 12, Pneumonia_cases: 9, misc: 3 } as Record<string, number>,
  classCounts: { normal: 40, pneumonia: 32, effusion: 4 } as Record<string, number>,
  skipped: [
    { path: 'normal/notes.txt', reason: 'not_an_image', detail: 'plain text' },
    { path: 'normal/readme.md', reason: 'not_an_image', detail: 'plain text' },
    {
      path: 'pneumonia/scan-017.dcm',
      reason: 'not_an_image',
      detail: 'unsupported format (DICOM)',
    },
    {
      path: 'pneumonia/scan-022.png',
      reason: 'truncated',
      detail: 'PNG ends after 1024 of 5310 bytes',
    },
    { path: 'effusion/x.jpg', reason: 'truncated', detail: 'JPEG has no end marker' },
    { path: 'effusion/.DS_Store', reason: 'hidden', detail: 'hidden file' },
  ],
  confusion: [
    [30, 6, 4],
    [7, 20, 5],
    [1, 1, 2],
  ],
} as const;

const CLASS_RGB: Record<string, [number, number, number]> = {
  normal: [70, 130, 180],
  pneumonia: [200, 120, 60],
  effusion: [90, 160, 90],
};

/** Deterministic pseudo-random numbers (mulberry32) so plots look the same every run. */
function rng(seed: number): () => number {
  return uniform32(mulberry32(seed));
}

function evaluation(id: number, version: number): EvaluationResult {
  const classes = [...FIXTURE.study.classes];
  const cm = FIXTURE.confusion.map((r) => [...r]);
  const total = cm.flat().reduce((a, b) => a + b, 0);
  const perClass = classes.map((name, i) => {
    const tp = cm[i]![i]!;
    const support = cm[i]!.reduce((a, b) => a + b, 0);
    const predicted = cm.reduce((a, r) => a + r[i]!, 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    return {
      name,
      precision,
      recall,
      f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
      support,
    };
  });
  return {
    evaluationId: id,
    modelVersion: version,
    samples: total,
    accuracy: cm.reduce((a, r, i) => a + r[i]!, 0) / total,
    balancedAccuracy: perClass.reduce((a, c) => a + c.recall, 0) / classes.length,
    macroF1: perClass.reduce((a, c) => a + c.f1, 0) / classes.length,
    macroAuroc: 0.71,
    ece: 0.084,
    confusion: cm,
    classes,
    perClass,
    calibration: [0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95].map((c, i) => ({
      confidence: c,
      accuracy: Math.min(1, c - 0.12 + 0.03 * i),
      count: [3, 9, 14, 17, 15, 12, 6][i]!,
    })),
    reportPaths: {
      json: '/home/site/reports/eval-1.json',
      csv: '/home/site/reports/eval-1.csv',
      markdown: '/home/site/reports/eval-1.md',
      html: '/home/site/reports/eval-1.html',
    },
    tinyModels: true,
  };
}

export type FixtureBackend = {
  handlers: SiteHandlers;
  /** Finish the running preparation successfully. */
  releasePrepare(): void;
  /** Every request each method received, in order. */
  calls: { method: string; req: unknown }[];
};

export async function createFixtureBackend(): Promise<FixtureBackend> {
  const calls: FixtureBackend['calls'] = [];
  const settings: Settings = {
    dataHome: '/home/site/.local/share/fgl',
    modelsDir: 'tiny',
    device: 'auto',
    offline: true,
    serverUrl: null,
    siteId: null,
    serverKeyFingerprint: null,
    tinyModels: true,
  };
  const audit: AuditEntry[] = [
    {
      id: 1,
      time: '2025-11-20T09:12:44Z',
      packageSha256: createHash('sha256').update('older').digest('hex'),
      bytes: 473_600,
      server: FIXTURE.serverUrl,
      studyId: FIXTURE.study.id,
      approvers: ['Dr. A. Okafor'],
      status: 'accepted',
    },
  ];
  const models = [
    {
      studyId: FIXTURE.study.id,
      version: 1,
      downloaded: true,
      verified: true,
      verification: 'signature by the pinned key verified',
    },
    {
      studyId: FIXTURE.study.id,
      version: 2,
      downloaded: false,
      verified: null,
      verification: null,
    },
  ];
  let run = 0;
  let release: (() => void) | null = null;
  const finishedRuns = new Set<string>();
  // Runs prepared with DP: plans (no sha256, no noise) until approved (issue #12 item 3).
  const dpRuns = new Map<string, number>();
  const approvedDp = new Set<string>();

  // The dataset's local images and their 2-D projection: three clusters.
  const r = rng(7);
  const centres: Record<string, [number, number]> = {
    normal: [-2, 1],
    pneumonia: [2, 1.5],
    effusion: [0.2, -2],
  };
  const local: PackagePreview['projection']['local'] = [];
  for (const [label, n] of Object.entries(FIXTURE.classCounts))
    for (let i = 0; i < n; i++)
      local.push({
        x: centres[label]![0] + (r() - 0.5) * 2.2,
        y: centres[label]![1] + (r() - 0.5) * 2.2,
        label,
        imageId: local.length,
      });
  const thumbs = new Map<string, string>();
  for (const [label, [red, green, blue]] of Object.entries(CLASS_RGB)) {
    const png = await sharp({
      create: { width: 96, height: 96, channels: 3, background: { r: red, g: green, b: blue } },
    })
      .composite([
        {
          input: Buffer.from(
            `<svg width="96" height="96"><circle cx="48" cy="48" r="26" fill="white" fill-opacity="0.5"/></svg>`,
          ),
          top: 0,
          left: 0,
        },
      ])
      .png()
      .toBuffer();
    thumbs.set(label, `data:image/png;base64,${png.toString('base64')}`);
  }

  const rows: PackagePreview['rows'] = [
    { index: 0, label: 'normal', prompt: 'a chest x-ray, normal', prompts: ['a chest x-ray, normal'], images: 21, blocked: false },
    { index: 1, label: 'normal', prompt: 'a chest x-ray, normal', prompts: ['a chest x-ray, normal'], images: 19, blocked: false },
    {
      index: 2,
      label: 'pneumonia',
      prompt: 'a chest x-ray showing pneumonia',
      prompts: ['a chest x-ray showing pneumonia'],
      images: 17,
      blocked: false,
    },
    {
      index: 3,
      label: 'pneumonia',
      prompt: 'a chest x-ray showing pneumonia',
      prompts: ['a chest x-ray showing pneumonia'],
      images: 15,
      blocked: true,
      single: true,
    },
    {
      index: 4,
      label: 'effusion',
      prompt: 'a chest x-ray showing effusion',
      prompts: ['a chest x-ray showing effusion'],
      images: 4,
      blocked: true,
    },
  ].map(({ single, ...row }) => ({
    ...row,
    checks: [
      {
        name: 'k-cohort',
        passed: row.images >= FIXTURE.study.k,
        detail:
          row.images >= FIXTURE.study.k
            ? `${row.images} images ≥ k=${FIXTURE.study.k}`
            : `only ${row.images} images < k=${FIXTURE.study.k}`,
      },
      {
        name: 'singling-out',
        passed: !single,
        detail: single
          ? 'nearest image 1.41× closer than the 5th: row points at one image'
          : 'ratio 1.04 ≤ 1.25',
      },
      { name: 'PHI scrub', passed: true, detail: 'no identifiers found' },
    ],
  }));
  const outgoingRows = rows.filter((x) => !x.blocked).length;

  const emitLater = (emit: (e: SiteEvent) => void, e: SiteEvent) => setTimeout(() => emit(e), 0);

  const handlers = {
    async 'settings.get'() {
      return { ...settings };
    },
    async 'settings.update'(req) {
      Object.assign(settings, req);
      return { ...settings };
    },
    async 'connect.enroll'(req) {
      if (req.token !== FIXTURE.enrollToken)
        throw Object.assign(
          new Error('The server refused the enrollment token: it is unknown, used or expired.'),
          { code: 'enrollment_refused', hint: 'Ask the study coordinator for a new token.' },
        );
      Object.assign(settings, {
        serverUrl: req.serverUrl,
        siteId: FIXTURE.siteId,
        serverKeyFingerprint: FIXTURE.fingerprint,
      });
      return {
        serverKeyFingerprint: FIXTURE.fingerprint,
        siteId: FIXTURE.siteId,
        studies: [FIXTURE.study.id],
        tlsCaFingerprint: null,
      };
    },
    async 'studies.list'() {
      return { studies: [{ ...FIXTURE.study, classes: [...FIXTURE.study.classes] }] };
    },
    async 'datasets.pickFolder'() {
      return { path: null };
    },
    async 'datasets.scan'(req, ctx) {
      if (req.dir === FIXTURE.missingDir)
        throw Object.assign(new Error(`No folder at ${req.dir}.`), {
          code: 'not_found',
          hint: 'Check the path: it is read on the machine running the site agent.',
        });
      ctx.emit({
        type: 'progress',
        job: 'scan',
        progress: { stage: 'scan', done: 82, total: 82, ratePerSec: 410, etaSec: 0 },
      });
      const k = req.k ?? 5;
      if (req.dir === FIXTURE.emptyDir)
        return { root: req.dir, layout: 'folder' as const, images: 0, classes: [], skipped: [{ path: 'report.pdf', reason: 'not_an_image', detail: 'PDF document' }], smallClasses: [] };
      const counts = req.dir === FIXTURE.messyDir ? FIXTURE.messyCounts : FIXTURE.classCounts;
      const classes = Object.entries(counts).map(([name, count]) => ({ name, count }));
      return {
        root: req.dir,
        layout: 'folder' as const,
        images: classes.reduce((a, c) => a + c.count, 0),
        classes,
        skipped: FIXTURE.skipped.map((s) => ({ ...s })),
        smallClasses: classes.filter((c) => c.count < k).map((c) => ({ ...c, k })),
      };
    },
    async 'prepare.start'(req, ctx) {
      const runId = `run-${++run}`;
      if (req.dpEpsilon) dpRuns.set(runId, req.dpEpsilon);
      emitLater(ctx.emit, {
        type: 'progress',
        job: runId,
        progress: {
          stage: 'embed images',
          done: 30,
          total: 76,
          ratePerSec: 12.5,
          etaSec: 3.7,
          message: `CLIP on cpu, ${req.promptMode} prompts`,
        },
      });
      release = () => {
        finishedRuns.add(runId);
        ctx.emit({
          type: 'progress',
          job: runId,
          progress: { stage: 'privacy checks', done: 5, total: 5, ratePerSec: 50, etaSec: 0 },
        });
        ctx.emit({ type: 'job-finished', job: runId, ok: true });
      };
      cancel.set(runId, () =>
        ctx.emit({ type: 'job-finished', job: runId, ok: false, error: 'Cancelled.' }),
      );
      return { runId };
    },
    async 'prepare.cancel'(req) {
      const c = cancel.get(req.runId);
      if (!c)
        throw Object.assign(new Error(`No preparation ${req.runId} in this session.`), {
          code: 'not_found',
        });
      cancel.delete(req.runId);
      release = null;
      c();
      return { ok: true as const };
    },
    async 'prepare.preview'(req) {
      if (!finishedRuns.has(req.runId))
        throw Object.assign(new Error('Not prepared yet.'), { code: 'not_ready' });
      const bytes = outgoingRows * 77 * 768 * 2 + outgoingRows * 8 + 1184;
      const epsilon = dpRuns.get(req.runId) ?? null;
      const plan = epsilon !== null && !approvedDp.has(req.runId);
      const planRows = rows.map((x) => ({ ...x, blocked: false, checks: [{ name: 'k-cohort', passed: true, detail: `DP: sent only if its noisy count, drawn once on approval, reaches 9.1 (exact: ${x.images} distinct pictures, local only)` }] }));
      const preview: PackagePreview = {
        runId: req.runId,
        sha256: plan ? null : createHash('sha256').update(req.runId).digest('hex'),
        bytes: plan ? null : bytes,
        plan,
        rows: plan ? planRows : rows,
        dims: { rows: plan ? rows.length : outgoingRows, tokens: 77, dim: 768, dtype: 'F16' },
        blockedRows: plan ? 0 : rows.filter((x) => x.blocked).length,
        redactions: 0,
        epsilon,
        projection: {
          outgoing: [
            [-2.4, 1.2],
            [-1.6, 0.7],
            [1.7, 1.9],
            [2.6, 1.1],
            [0.2, -2.1],
          ],
          local,
        },
        reportMarkdown: `# Privacy report — ${req.runId}\n\nStudy: ${FIXTURE.study.id}. Tiny test models: results are at chance level.\n\n| class | rows sent | blocked |\n| --- | --- | --- |\n| normal | 2 | 0 |\n| pneumonia | 1 | 1 |\n| effusion | 0 | 1 |\n\nBlocked rows are left out of the package.\n`,
        tinyModels: true,
        uploaded: null,
      };
      return preview;
    },
    async 'images.thumbnail'(req) {
      const img = local[req.imageId];
      if (!img) throw Object.assign(new Error('No such image.'), { code: 'not_found' });
      return { dataUrl: thumbs.get(img.label)! };
    },
    async 'upload.approve'(req, ctx) {
      if (dpRuns.has(req.runId)) approvedDp.add(req.runId);
      ctx.emit({
        type: 'progress',
        job: `upload-${req.runId}`,
        progress: { stage: 'upload', done: 1, total: 1, ratePerSec: 1, etaSec: 0 },
      });
      const entry: AuditEntry = {
        id: audit.length + 1,
        time: '2025-11-24T10:05:00Z',
        packageSha256: createHash('sha256').update(req.runId).digest('hex'),
        bytes: outgoingRows * 77 * 768 * 2 + outgoingRows * 8 + 1184,
        server: settings.serverUrl ?? FIXTURE.serverUrl,
        studyId: FIXTURE.study.id,
        approvers: [req.approver, ...(req.secondApprover ? [req.secondApprover] : [])],
        status: 'accepted',
      };
      audit.push(entry);
      return entry;
    },
    async 'packages.list'() {
      const bytes = outgoingRows * 77 * 768 * 2 + outgoingRows * 8 + 1184;
      return {
        packages: [...finishedRuns].reverse().map((runId) => {
          const sha256 = createHash('sha256').update(runId).digest('hex');
          const upload = audit.find((a) => a.packageSha256 === sha256) ?? null;
          if (dpRuns.has(runId) && !approvedDp.has(runId))
            return { runId, studyId: FIXTURE.study.id, sha256: null, bytes: null, rows: rows.length, createdAt: '2025-11-24T10:00:00Z', state: 'planned' as const, upload: null };
          return { runId, studyId: FIXTURE.study.id, sha256, bytes, rows: outgoingRows, createdAt: '2025-11-24T10:00:00Z', state: upload ? ('uploaded' as const) : ('prepared' as const), upload };
        }),
      };
    },
    async 'upload.resume'() {
      throw Object.assign(new Error('This package has no approved upload waiting to be sent.'), { code: 'nothing_to_resume' });
    },
    async 'models.list'() {
      return { models: models.map((m) => ({ ...m })) };
    },
    async 'models.pull'(req, ctx) {
      ctx.emit({
        type: 'progress',
        job: `pull-${req.studyId}`,
        progress: { stage: 'download', done: 3, total: 3, ratePerSec: 2, etaSec: 0 },
      });
      const m = models.find((x) => x.version === (req.version ?? 2))!;
      Object.assign(m, {
        downloaded: true,
        verified: true,
        verification: 'signature by the pinned key verified',
      });
      return { ...m };
    },
    async 'models.siteFetch'(req) {
      return siteModelsInstall(req.studyId, 'fetched');
    },
    async 'models.siteImport'(req) {
      return siteModelsInstall(req.studyId, 'imported');
    },
    async 'evaluate.run'(req) {
      return evaluation(1, req.version);
    },
    async 'evaluate.export'(req) {
      const e = evaluation(req.evaluationId, 1).reportPaths;
      return { paths: [e.json, e.csv, e.markdown, e.html] };
    },
    async 'audit.list'(req) {
      const q = req.search?.toLowerCase();
      return {
        entries: audit.filter((e) => !q || JSON.stringify(e).toLowerCase().includes(q)).reverse(),
      };
    },
  } satisfies SiteHandlers;

  function siteModelsInstall(studyId: string, source: 'fetched' | 'imported') {
    return {
      studyId,
      dir: `/home/site/models/studies/${studyId}`,
      models: (['encoder', 'clip', 'captioner'] as const).map((role, i) => ({ role, id: `fgl-tiny/${role}`, sha256: String(i + 1).repeat(64), files: 4, bytes: 1000 * (i + 1), source })),
      bytes: 6000,
    };
  }
  const cancel = new Map<string, () => void>();

  const recorded = Object.fromEntries(
    Object.entries(handlers).map(([method, fn]) => [
      method,
      (req: SiteRequest<keyof SiteHandlers>, ctx: Parameters<SiteHandlers['settings.get']>[1]) => {
        calls.push({ method, req });
        return (fn as (q: unknown, c: unknown) => Promise<unknown>)(req, ctx);
      },
    ]),
  ) as unknown as SiteHandlers;

  return {
    handlers: recorded,
    releasePrepare: () => {
      const r2 = release;
      release = null;
      r2?.();
    },
    calls,
  };
}
