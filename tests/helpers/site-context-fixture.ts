import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteCallResult, SiteEvent, SiteHandlers } from '../../src/shared/site-api';
import { Ledger } from '../../src/site/ledger/ledger';
import { plainVault } from '../../src/site/client/site-key-vault';
import { enrollSite } from '../../src/site/client/enroll-site';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { StudyManifest } from '../../src/shared/study';
import { createStudy, issueToken, startTestServer, type TestServer } from './server-fixture';
import { dispatchSiteCall } from '../../src/site/api/dispatch-site-call';
import { createSiteContext, type ResolveModels, type SiteContext } from '../../src/site/api/handlers/site-context';

export type SiteContextFixture = {
  c: SiteContext;
  home: string;
  events: SiteEvent[];
  /** One call through the real dispatcher: request and response validated against the contract. */
  call(handlers: Partial<SiteHandlers>, method: string, req: unknown): Promise<SiteCallResult>;
  close(): Promise<void>;
};

const noModels: ResolveModels = () => Promise.reject(new Error('no models in this test'));

/** A site context over an in-memory ledger and a temp home, for one domain's handlers. */
export async function siteContextFixture(o: { resolveModels?: ResolveModels } = {}): Promise<SiteContextFixture> {
  const home = await mkdtemp(join(tmpdir(), 'fgl-handlers-'));
  const ledger = Ledger.open(':memory:');
  const c = createSiteContext({ home, ledger, vault: plainVault, resolveModels: o.resolveModels ?? noModels });
  const events: SiteEvent[] = [];
  return {
    c,
    home,
    events,
    async call(handlers, method, req) {
      const r = await dispatchSiteCall(handlers as SiteHandlers, method, req, {
        signal: new AbortController().signal,
        emit: (e) => void events.push(e),
      });
      return r.result;
    },
    async close() {
      for (const j of c.jobs.values()) j.controller.abort(new Error('test over'));
      await Promise.allSettled([...c.jobs.values()].map((j) => j.done));
      c.close();
      ledger.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A dataset, a finished run and its package row, as a preparation leaves them in the ledger. */
export function seedPackage(ledger: Ledger, o: { sha256: string; studyId?: string; path?: string }) {
  const ds = ledger.datasets.upsert({ root: '/data/images', labelSource: 'folder' });
  const run = ledger.runs.create({ datasetId: ds.id, studyId: o.studyId ?? 's1', options: {} });
  ledger.runs.update(run.id, { status: 'done' });
  return ledger.packages.insert({ runId: run.id, sha256: o.sha256, bytes: 100, path: o.path ?? `/pkgs/${o.sha256}/package.safetensors`, rows: 2, privacy: {}, report: {} });
}

/** Enroll the fixture's site with a fresh token for `studyId` on a test server (real HTTP on loopback). */
export async function enrollFixture(f: SiteContextFixture, t: TestServer, studyId: string): Promise<string> {
  const { token } = await issueToken(t, studyId, `site-${Math.random().toString(36).slice(2, 8)}`);
  const r = await enrollSite(f.c.ledger, t.url, token, { vault: plainVault });
  return r.siteId;
}

/**
 * Per-test site fixtures (fresh in-memory ledger each test) next to one real test server with a
 * study for the whole file; the returned object is filled in by the hooks.
 */
export function useSiteAndServer(o: { resolveModels?: ResolveModels } = {}) {
  const s = {} as { t: TestServer; study: StudyManifest; f: SiteContextFixture };
  beforeAll(async () => {
    s.t = await startTestServer();
    s.study = await createStudy(s.t);
  });
  afterAll(() => s.t.close());
  beforeEach(async () => void (s.f = await siteContextFixture(o)));
  afterEach(() => s.f.close());
  return s;
}
