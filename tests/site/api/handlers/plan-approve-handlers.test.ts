/**
 * The plan → approve flow through the real site API (issue #12 item 3) and packages prepared
 * with the CLI in the app's list (issue #15 item 2 follow-up): real ledger file, real HTTP
 * server on loopback, tiny models.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSampleData } from '../../../../src/cli/sample-data/make-sample-data';
import { buildStudyManifest } from '../../../../src/cli/study/build-study';
import { describeModelsFolder } from '../../../../src/cli/study/models-folder';
import type { StudyManifest } from '../../../../src/shared/study';
import type { SiteCallResult, SiteEvent } from '../../../../src/shared/site-api';
import { createSiteHandlers } from '../../../../src/site/api/site-handlers';
import { dispatchSiteCall } from '../../../../src/site/api/dispatch-site-call';
import { enrollSite } from '../../../../src/site/client/enroll-site';
import { MachineSpend } from '../../../../src/site/privacy/machine-spend';
import { sitePrepareCommand } from '../../../../src/cli/commands/site-prepare';
import { siteUploadCommand } from '../../../../src/cli/commands/site-federation';
import { issueToken, startTestServer, type TestServer } from '../../../helpers/server-fixture';
import { getTinyModels, type TinyModels } from '../../../helpers/tiny-models';
import { pollUntil } from '../../../helpers/child-process';
import { recordingContext } from '../../../helpers/command-context';

let t: TestServer;
let tiny: TinyModels;
let study: StudyManifest;
let dataDir: string;
let home: string;
let tmp: string;
const envBefore = { home: process.env.FGL_HOME, spend: process.env.FGL_PRIVACY_LEDGER };
beforeAll(async () => {
  tiny = await getTinyModels();
  t = await startTestServer();
  tmp = await mkdtemp(join(tmpdir(), 'fgl-plan-api-'));
  home = join(tmp, 'home');
  process.env.FGL_HOME = home;
  process.env.FGL_PRIVACY_LEDGER = join(tmp, 'state', 'privacy-spend.sqlite');
  const data = await makeSampleData(join(tmp, 'data'), { classes: 2, perClass: 8, seed: 5, size: 32 });
  dataDir = data.dir;
  const { id: _id, createdAt: _c, ...body } = buildStudyManifest({ name: 'Plans', classes: data.classes, models: await describeModelsFolder(tiny.root), k: 2 });
  study = (await t.api('POST', '/v1/studies', { key: t.adminKey, json: body })).json as StudyManifest;
}, 120_000);
afterAll(async () => {
  await t.close();
  if (envBefore.home === undefined) delete process.env.FGL_HOME;
  else process.env.FGL_HOME = envBefore.home;
  if (envBefore.spend === undefined) delete process.env.FGL_PRIVACY_LEDGER;
  else process.env.FGL_PRIVACY_LEDGER = envBefore.spend;
  await rm(tmp, { recursive: true, force: true });
});

function backend() {
  const b = createSiteHandlers({ home, resolveModels: async () => ({ ...tiny.dirs, tiny: true }) });
  const events: SiteEvent[] = [];
  const call = async (method: string, req: unknown): Promise<SiteCallResult> =>
    (await dispatchSiteCall(b.handlers, method, req, { signal: new AbortController().signal, emit: (e) => void events.push(e) })).result;
  return { b, events, call };
}
const data = <T>(r: SiteCallResult) => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.data as T;
};
type Listed = { packages: { runId: string; state: string; sha256: string | null; upload: { status: string; packageSha256: string } | null }[] };
type Preview = { plan: boolean; sha256: string | null; bytes: number | null; rows: unknown[]; epsilon: number | null };
const storedOnServer = async () =>
  ((await t.api('GET', `/v1/studies/${study.id}/packages`, { key: t.adminKey })).json as { packages: { sha256: string }[] }).packages.map((p) => p.sha256);

describe('plan → approve through the site API (issue #12 item 3)', () => {
  it('a DP preparation is a plan (no ε, no noise, no package); approval draws once, charges ε, uploads, and the audit row holds the hash of what left', async () => {
    const s = backend();
    try {
      const { token } = await issueToken(t, study.id, 'plan site');
      await enrollSite(s.b.ledger, t.url, token);
      const { runId } = data<{ runId: string }>(await s.call('prepare.start', { dataDir, studyId: study.id, promptMode: 'class', aggregation: 'class', dpEpsilon: 8 }));
      await pollUntil(() => s.events.find((e) => e.type === 'job-finished' && e.job === runId), { what: `${runId} to finish`, timeoutMs: 60_000, intervalMs: 50 });
      expect(data<Listed>(await s.call('packages.list', {})).packages).toEqual([expect.objectContaining({ runId, state: 'planned', sha256: null, upload: null })]);
      const p1 = data<Preview>(await s.call('prepare.preview', { runId }));
      const p2 = data<Preview>(await s.call('prepare.preview', { runId }));
      expect(p1).toMatchObject({ plan: true, sha256: null, bytes: null, epsilon: 8 });
      expect(p2).toEqual(p1);
      expect(s.b.ledger.dp.list(1)).toEqual([]);

      const entry = data<{ packageSha256: string; status: string; approvers: string[] }>(await s.call('upload.approve', { runId, approver: 'Dr Steward', secondApprover: 'Privacy Office', confirm: true }));
      expect(entry).toMatchObject({ status: 'accepted', approvers: ['Dr Steward', 'Privacy Office'] });
      const pkg = s.b.ledger.packages.get(entry.packageSha256)!;
      // The audit row's hash is the hash of the bytes that left, as the server stored them.
      expect(createHash('sha256').update(await readFile(pkg.path)).digest('hex')).toBe(entry.packageSha256);
      expect(await storedOnServer()).toEqual([entry.packageSha256]);
      expect(s.b.ledger.dp.list(1)).toEqual([expect.objectContaining({ epsilon: 8, packageSha256: entry.packageSha256 })]);
      const machine = MachineSpend.open();
      try {
        expect(machine.spentByUnits((s.b.ledger.db.prepare('SELECT DISTINCT unit_key AS k FROM dp_unit_spend').all() as { k: string }[]).map((r) => r.k))).toBe(8);
      } finally {
        machine.close();
      }
      expect(data<Preview>(await s.call('prepare.preview', { runId }))).toMatchObject({ plan: false, sha256: entry.packageSha256 });
      expect(data<Listed>(await s.call('packages.list', {})).packages[0]).toMatchObject({ runId, state: 'uploaded', sha256: entry.packageSha256 });
      // Approving again: one approval per package, no second draw or charge.
      expect(await s.call('upload.approve', { runId, approver: 'Someone Else', confirm: true })).toMatchObject({ ok: false });
      expect(s.b.ledger.dp.list(1)).toHaveLength(1);
    } finally {
      s.b.close();
    }
  }, 120_000);
});

describe('packages prepared with the CLI appear in the app (issue #15 item 2)', () => {
  it('fgl site prepare output (a package, and a DP plan) is listed with its state; the app approves one, `fgl site upload` the other', async () => {
    const out = join(tmp, 'cli-pkg');
    const planOut = join(tmp, 'cli-plan');
    const prep = async (o: string, extra: Record<string, string>) => {
      const r = recordingContext({ data: dataDir, study: study.id, out: o, models: tiny.root, prompts: 'class', aggregate: 'class', device: 'cpu', ...extra });
      await sitePrepareCommand.run(r.ctx);
      return r.results[0] as { runId: number; package: string | null; plan: string | null; sha256: string | null };
    };
    const made = await prep(out, {});
    const planned = await prep(planOut, { 'dp-epsilon': '4' });
    expect(planned).toMatchObject({ package: null, sha256: null, plan: join(planOut, 'plan.json') });

    const s = backend();
    try {
      const listed = data<Listed>(await s.call('packages.list', {})).packages;
      const cliPkg = listed.find((p) => p.runId === `run-${made.runId}`);
      const cliPlan = listed.find((p) => p.runId === `run-${planned.runId}`);
      console.log(`CLI-prepared in the app's list: ${JSON.stringify([cliPkg, cliPlan].map((p) => p && { runId: p.runId, state: p.state }))}`);
      expect(cliPkg).toMatchObject({ state: 'prepared', sha256: made.sha256 });
      expect(cliPlan).toMatchObject({ state: 'planned', sha256: null });
      // The app opens and approves the CLI's package.
      expect(data<Preview>(await s.call('prepare.preview', { runId: cliPkg!.runId }))).toMatchObject({ plan: false, sha256: made.sha256 });
      expect(data<{ status: string }>(await s.call('upload.approve', { runId: cliPkg!.runId, approver: 'Dr Steward', confirm: true }))).toMatchObject({ status: 'accepted' });
      // The CLI approves its plan: noise drawn, ε charged, package sent.
      const up = recordingContext({ package: planOut, approver: 'Dr Steward' });
      await siteUploadCommand.run(up.ctx);
      const sent = (up.results[0] as { uploads: { packageSha256: string; status: string }[] }).uploads[0]!;
      expect(sent.status).toBe('accepted');
      const after = data<Listed>(await s.call('packages.list', {})).packages;
      expect(after.find((p) => p.runId === `run-${made.runId}`)).toMatchObject({ state: 'uploaded' });
      expect(after.find((p) => p.runId === `run-${planned.runId}`)).toMatchObject({ state: 'uploaded', sha256: sent.packageSha256 });
      expect(await storedOnServer()).toEqual(expect.arrayContaining([made.sha256, sent.packageSha256]));
    } finally {
      s.b.close();
    }
  }, 120_000);
});
