import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { registerSiteIpc } from '../../../src/main/ipc';
import { IPC_CALL } from '../../../src/shared/ipc-channels';
import {
  isSiteMethod,
  SITE_METHODS,
  siteApi,
  SiteCallResult,
  type SiteMethod,
} from '../../../src/shared/site-api';
import { recordFigures } from '../reliability-figures';
import {
  confusableOf,
  describeThrown,
  FUZZ_SEED,
  fuzzParams,
  hostileJson,
  hostileString,
  labelled,
} from './fuzz-support';

/*
 * The desktop IPC boundary, with a fake ipcMain (as in tests/main/ipc.test.ts): random method
 * names, payloads and senders. A call that is not from the app window, names no site method or
 * does not match the method's request schema ends as `{ok:false,error}` without reaching the
 * backend; whatever reaches the backend is exactly the schema's output for that request.
 */

type Handler = (event: unknown, method: unknown, req: unknown) => Promise<unknown>;

const APP_URL = 'file:///app/index.html';
const handlers = new Map<string, Handler>();
const backendCalls: { method: string; req: unknown }[] = [];
registerSiteIpc(
  {
    handle: (ch: string, h: Handler) => void handlers.set(ch, h),
    removeHandler: (ch: string) => void handlers.delete(ch),
  } as never,
  {
    appWebContentsId: () => 1,
    appOrigin: APP_URL,
    backend: {
      call: async (method, req) => {
        backendCalls.push({ method, req });
        return { ok: true, data: { method } };
      },
    },
  },
);

/** A valid request per method, to mutate: mutations get past the first check into the fields. */
const VALID: Record<SiteMethod, unknown> = {
  'settings.get': {},
  'settings.update': { device: 'cpu', offline: true, modelsDir: '/models' },
  'connect.enroll': { serverUrl: 'https://fgl.example', token: 'tok-1234567890' },
  'studies.list': {},
  'datasets.pickFolder': {},
  'datasets.scan': { dir: '/data/images', k: 5 },
  'prepare.start': {
    dataDir: '/data',
    studyId: 's',
    promptMode: 'class',
    aggregation: 'cluster',
    k: 5,
    dpEpsilon: 1,
  },
  'prepare.cancel': { runId: 'run-1' },
  'prepare.preview': { runId: 'run-1' },
  'images.thumbnail': { runId: 'run-1', imageId: 3 },
  'upload.approve': { runId: 'run-1', approver: 'Ann', secondApprover: 'Bob', confirm: true },
  'upload.resume': { runId: 'run-1' },
  'packages.list': {},
  'models.list': { studyId: 's' },
  'models.pull': { studyId: 's', version: 2 },
  'models.siteFetch': { studyId: 's' },
  'models.siteImport': { studyId: 's', dir: '/media/usb/fgl-models' },
  'evaluate.run': { studyId: 's', version: 1, dataDir: '/data' },
  'evaluate.export': { evaluationId: 1 },
  'audit.list': { search: 'x' },
};

/** A sender and whether it is the app window (by construction, not by asking the code under test). */
type Sender = { sender: unknown; senderFrame: unknown; trusted: boolean; label: string };
const senderArb: fc.Arbitrary<Sender> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .constantFrom(
        APP_URL,
        `${APP_URL}?x=1`,
        `${APP_URL}#/upload`,
        'file:///app/./index.html',
        'file:///app/x/../index.html',
        'file://localhost/app/index.html',
      )
      .map((url) => ({
        sender: { id: 1 },
        senderFrame: { url, parent: null },
        trusted: true,
        label: `app ${url}`,
      })),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.constantFrom<[unknown, unknown, string]>(
          [{ id: 2 }, { url: APP_URL, parent: null }, 'other window'],
          [{ id: 1 }, { url: APP_URL, parent: { url: APP_URL } }, 'iframe'],
          [{ id: 1 }, { url: 'https://evil.example/', parent: null }, 'web page'],
          [{ id: 1 }, { url: 'file:///app/other.html', parent: null }, 'other file'],
          [{ id: 1 }, { url: 'file:///tmp/app/index.html', parent: null }, 'file elsewhere'],
          [
            { id: 1 },
            { url: 'file://evil.example/app/index.html', parent: null },
            'file on a host',
          ],
          [{ id: 1 }, { url: 'data:text/html,<script>1</script>', parent: null }, 'data url'],
          [{ id: 1 }, { url: 'about:blank', parent: null }, 'about:blank'],
          [{ id: 1 }, null, 'no frame'],
          [null, { url: APP_URL, parent: null }, 'no sender'],
          [{ id: '1' }, { url: APP_URL, parent: null }, 'id as string'],
        ),
        hostileString.map((url): [unknown, unknown, string] => [
          { id: 1 },
          { url, parent: null },
          `url ${JSON.stringify(url.slice(0, 40))}`,
        ]),
      )
      .map(([sender, senderFrame, label]) => ({ sender, senderFrame, trusted: false, label })),
  },
);

const methodArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SITE_METHODS) },
  { weight: 2, arbitrary: fc.constantFrom(...SITE_METHODS).chain((m) => confusableOf(m)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'toString',
      'hasOwnProperty',
      'valueOf',
      'fs.readFile',
      'shell.openExternal',
      'settings',
      'settings.get.call',
      '',
      'SETTINGS.GET',
    ),
  },
  { weight: 2, arbitrary: hostileJson },
);

type Mut = { at: string | null; value: unknown } | { drop: string };
const requestArb = (method: unknown): fc.Arbitrary<unknown> => {
  const valid = isSiteMethod(method) ? VALID[method] : undefined;
  const options: fc.Arbitrary<unknown>[] = [
    hostileJson,
    fc.constantFrom(undefined, null, {}, [], '', 0),
  ];
  if (valid !== undefined) {
    const keys = Object.keys(valid as object);
    const mut: fc.Arbitrary<Mut> = fc.oneof(
      fc
        .tuple(fc.constantFrom(null, ...keys), fc.oneof(hostileJson, hostileString))
        .map(([at, value]) => ({ at, value })),
      fc
        .tuple(
          fc.oneof(
            hostileString,
            fc.constantFrom('__proto__', 'constructor', 'dataHome', 'path', 'apiKey'),
          ),
          hostileJson,
        )
        .map(([at, value]) => ({ at, value })),
      ...(keys.length > 0 ? [fc.constantFrom(...keys).map((drop) => ({ drop }))] : []),
    );
    options.push(
      fc.constant(valid),
      fc.array(mut, { minLength: 1, maxLength: 3 }).map((muts) => {
        let r: unknown = { ...(valid as object) };
        for (const m of muts) {
          if ('drop' in m) {
            if (r !== null && typeof r === 'object') Reflect.deleteProperty(r, m.drop);
          } else if (m.at === null) r = m.value;
          else if (r !== null && typeof r === 'object')
            Object.defineProperty(r, m.at, {
              value: m.value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
        }
        return r;
      }),
      fc.array(mut, { minLength: 1, maxLength: 3 }).map(() => valid),
    );
  }
  return fc.oneof(...options);
};

const caseArb = fc
  .tuple(senderArb, methodArb)
  .chain(([s, method]) => requestArb(method).map((req) => ({ s, method, req })))
  // What crosses IPC is a structured clone: no functions, no prototypes.
  .filter(({ method, req }) => {
    try {
      structuredClone([method, req]);
      return true;
    } catch {
      return false;
    }
  })
  .map((c) =>
    labelled(
      c,
      (v) => `${v.s.label}: ${preview(v.method)}(${preview(v.req)}) (FGL_FUZZ_SEED=${FUZZ_SEED})`,
    ),
  );

function preview(v: unknown): string {
  try {
    const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return '(unprintable)';
  }
}

const stats = { inputs: 0, failures: 0, forwarded: 0, refused: new Map<string, number>() };

async function check(s: Sender, method: unknown, req: unknown): Promise<void> {
  stats.inputs++;
  const [m, r] = structuredClone([method, req]);
  const before = backendCalls.length;
  let result: unknown;
  try {
    result = await handlers.get(IPC_CALL)!({ sender: s.sender, senderFrame: s.senderFrame }, m, r);
  } catch (e) {
    stats.failures++;
    throw new Error(`the IPC handler threw ${describeThrown(e)}`);
  }
  const parsedResult = SiteCallResult.safeParse(result);
  const expectedValid = s.trusted && isSiteMethod(m) && siteApi[m].req.safeParse(r ?? {}).success;
  try {
    expect(parsedResult.success, 'result is a SiteCallResult').toBe(true);
    if (!expectedValid) {
      expect(backendCalls.length, 'the backend must not be called').toBe(before);
      expect(result).toMatchObject({
        ok: false,
        error: { code: expect.any(String), message: expect.any(String) },
      });
      const code = (result as { error: { code: string } }).error.code;
      expect(['untrusted_sender', 'unknown_method', 'invalid_request']).toContain(code);
      if (!s.trusted) expect(code).toBe('untrusted_sender');
      // The message may quote the offending keys, but never amplifies the input.
      const inputSize = (preview(m).length + (JSON.stringify(r ?? null)?.length ?? 0)) * 2;
      expect((result as { error: { message: string } }).error.message.length).toBeLessThan(
        5000 + inputSize,
      );
      stats.refused.set(code, (stats.refused.get(code) ?? 0) + 1);
    } else {
      expect(backendCalls.length, 'a valid call reaches the backend once').toBe(before + 1);
      const call = backendCalls.at(-1)!;
      expect(call.method).toBe(m);
      // Exactly the schema's output, and nothing that fails the schema.
      const sm = m as SiteMethod;
      expect(call.req).toEqual(siteApi[sm].req.parse(r ?? {}));
      expect(siteApi[sm].req.safeParse(call.req).success).toBe(true);
      stats.forwarded++;
    }
  } catch (e) {
    stats.failures++;
    throw e;
  }
}

describe('fuzz: desktop IPC contract (registerSiteIpc)', () => {
  afterAll(() => {
    recordFigures('fuzz', 'desktop IPC contract', {
      inputs: stats.inputs,
      failures: stats.failures,
      seed: FUZZ_SEED,
      forwardedValid: stats.forwarded,
      refused: [...stats.refused]
        .sort()
        .map(([k, n]) => `${k}×${n}`)
        .join(' '),
    });
  });

  it('refuses every invalid call before the backend and forwards only schema-checked data', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, ({ s, method, req }) => check(s, method, req)),
      fuzzParams(3000),
    );
    expect(stats.forwarded).toBeGreaterThan(50);
    for (const code of ['untrusted_sender', 'unknown_method', 'invalid_request'])
      expect(stats.refused.get(code) ?? 0, code).toBeGreaterThan(0);
  });

  it('refuses method names that are not strings, even ones that break String() (regression)', async () => {
    const app: Sender = {
      sender: { id: 1 },
      senderFrame: { url: APP_URL, parent: null },
      trusted: true,
      label: 'app',
    };
    for (const method of [
      { toString: 1 },
      { toString: 'x', valueOf: 'y' },
      ['settings.get'],
      42,
      null,
      undefined,
      true,
    ])
      await check(app, method, {});
  });
});
