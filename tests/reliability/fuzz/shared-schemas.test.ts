import fc from 'fast-check';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as apiErrorModule from '../../../src/shared/api-error';
import * as modelManifestModule from '../../../src/shared/model-manifest';
import * as modelRefModule from '../../../src/shared/model-ref';
import * as packageFormatModule from '../../../src/shared/package-format';
import * as progressModule from '../../../src/shared/progress';
import * as serverApiModule from '../../../src/shared/server-api';
import * as siteApiModule from '../../../src/shared/site-api';
import * as studyModule from '../../../src/shared/study';
import { metadataToStrings, type PackageMetadata } from '../../../src/shared/package-format';
import { ModelRef } from '../../../src/shared/model-ref';
import { SafeRelativePath } from '../../../src/shared/model-manifest';
import { siteApi } from '../../../src/shared/site-api';
import { ModelStore } from '../../../src/core/models/model-store';
import { recordFigures } from '../reliability-figures';
import {
  deepJsonText,
  describeThrown,
  FUZZ_SEED,
  fuzzParams,
  hostileJson,
  hostileString,
  labelled,
} from './fuzz-support';

/*
 * Every zod schema in src/shared, fed arbitrary JSON and mutations of valid documents: safeParse
 * never throws, parse throws only ZodError, and whatever is accepted re-validates to itself
 * (schemas with a transform: through their inverse), has only plain prototypes, and — for the
 * path-like schemas — cannot name a file outside its folder.
 */

type Named = { name: string; schema: z.ZodType };

function schemasOf(moduleName: string, mod: Record<string, unknown>): Named[] {
  return Object.entries(mod)
    .filter(([, v]) => v instanceof z.ZodType)
    .map(([k, v]) => ({ name: `${moduleName}.${k}`, schema: v as z.ZodType }));
}

const SCHEMAS: Named[] = [
  ...schemasOf('api-error', apiErrorModule),
  ...schemasOf('model-manifest', modelManifestModule),
  ...schemasOf('model-ref', modelRefModule),
  ...schemasOf('package-format', packageFormatModule),
  ...schemasOf('progress', progressModule),
  ...schemasOf('server-api', serverApiModule),
  ...schemasOf('site-api', siteApiModule),
  ...schemasOf('study', studyModule),
  ...Object.entries(siteApi).flatMap(([m, pair]) => [
    { name: `siteApi['${m}'].req`, schema: pair.req as z.ZodType },
    { name: `siteApi['${m}'].res`, schema: pair.res as z.ZodType },
  ]),
];

/** Transforming schemas: their output is not their input, so re-validate through the inverse. */
const INVERSE: Record<string, (out: unknown) => unknown> = {
  'package-format.PackageMetadata': (out) => metadataToStrings(out as PackageMetadata),
};

const SHA = 'ab'.repeat(32);
const NOW = '2025-01-01T00:00:00.000Z';
const training = {
  kind: 'probe',
  epochs: 3,
  batchSize: 8,
  learningRate: 0.01,
  validationSplit: 0.2,
  patience: 2,
  seed: 0,
};
const studyInput = {
  schemaVersion: 1,
  id: 'fuzz-study',
  name: 'Fuzz study',
  createdAt: NOW,
  classes: ['cat', 'dog', 'bird'],
  prompts: {
    templates: ['{class}, real world images, high resolution'],
    instanceTemplate: '{class}, {caption}, real world images, high resolution.',
    modes: ['class', 'instance'],
    vocabulary: ['fur', 'feathers'],
  },
  encoder: { id: 'fgl-tiny/text-encoder', sha256: SHA, dim: 8 },
  clip: { id: 'fgl-tiny/clip' },
  captioner: null,
  generator: { model: { id: 'fgl-tiny/sd' } },
  privacy: { k: 3, maxEpsilon: 8 },
  training,
};

/** Valid documents to mutate, by schema name: mutations of these reach deep into each schema. */
const EXAMPLES: Record<string, unknown[]> = {
  'study.StudyManifest': [studyInput],
  'server-api.CreateStudyBody': [
    Object.fromEntries(Object.entries(studyInput).filter(([k]) => k !== 'id' && k !== 'createdAt')),
  ],
  'study.PrivacyPolicy': [studyInput.privacy],
  'study.EncoderRef': [studyInput.encoder],
  'study.GeneratorSettings': [{ model: { id: 'a/b' }, steps: 4, height: 64, width: 64 }],
  'study.TrainingSettings': [training],
  'model-ref.ModelRef': [{ id: 'Xenova/clip-vit-base-patch32', revision: 'main', sha256: SHA }],
  'package-format.PackageMetadata': [
    {
      format: 'fgl-embedding-package',
      format_version: '1',
      study_id: 'fuzz-study',
      site_id: 'site-abcdef',
      encoder_id: 'fgl-tiny/text-encoder',
      encoder_sha256: SHA,
      prompt_mode: 'class',
      aggregation: 'class',
      k: '3',
      dp_epsilon: '4',
      dp_delta: '0.00001',
      app_version: '0.1.0',
      created_at: NOW,
    },
  ],
  'model-manifest.ModelManifest': [
    {
      schemaVersion: 1,
      studyId: 'fuzz-study',
      version: 2,
      roundId: 'round-abcd',
      createdAt: NOW,
      classes: ['cat', 'dog'],
      kind: 'probe',
      preprocessing: { input: 'clip-image-embeds', normalize: true },
      backbone: { id: 'fgl-tiny/clip', revision: 'main' },
      training: { ...training, backend: 'cpu', samples: 12 },
      metrics: { valAccuracy: 0.5, valLoss: 1, valSamples: 3, epochs: 3 },
      files: [
        { path: 'model.json', sha256: SHA, bytes: 10 },
        { path: 'shards/group1-shard1of1.bin', sha256: SHA, bytes: 100 },
      ],
    },
  ],
  'model-manifest.SafeRelativePath': ['shards/group1-shard1of1.bin', 'model.json'],
  'server-api.EnrollBody': [{ token: 'x'.repeat(32) }],
  'server-api.CreateEnrollmentTokenBody': [{ siteName: 'Site A', ttlSec: 3600 }],
  'server-api.StartRoundBody': [{ run: false }],
  'api-error.ApiError': [{ error: { code: 'bad_thing', message: 'm', hint: 'h' } }],
  'progress.ProgressEvent': [{ stage: 's', done: 1, total: 2, ratePerSec: 1, etaSec: 1 }],
  "siteApi['settings.update'].req": [{ device: 'cpu', offline: true, modelsDir: '/m' }],
  "siteApi['connect.enroll'].req": [{ serverUrl: 'https://fgl.example', token: 'tok-123456789' }],
  "siteApi['datasets.scan'].req": [{ dir: '/data/images', k: 5 }],
  "siteApi['prepare.start'].req": [
    {
      dataDir: '/data',
      studyId: 'fuzz-study',
      promptMode: 'class',
      aggregation: 'cluster',
      k: 5,
      dpEpsilon: 1,
    },
  ],
  "siteApi['images.thumbnail'].req": [{ runId: 'run-1', imageId: 3 }],
  "siteApi['upload.approve'].req": [
    { runId: 'run-1', approver: 'Ann', secondApprover: 'Bob', confirm: true },
  ],
  "siteApi['models.pull'].req": [{ studyId: 'fuzz-study', version: 2 }],
  "siteApi['evaluate.run'].req": [{ studyId: 'fuzz-study', version: 1, dataDir: '/data' }],
  "siteApi['audit.list'].req": [{ search: 'x' }],
};

type Step = string | number;

/** Every path into a JSON-like value (the root included). */
function pathsOf(v: unknown, prefix: Step[] = []): Step[][] {
  const out: Step[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...prefix, k]));
  return out;
}

type Op =
  { op: 'replace'; value: unknown } | { op: 'delete' } | { op: 'add'; key: string; value: unknown };

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function mutate(doc: unknown, at: Step[], op: Op): unknown {
  if (at.length === 0) {
    if (op.op === 'replace') return op.value;
    if (op.op === 'add' && doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
      const copy = { ...(doc as Record<string, unknown>) };
      setOwn(copy, op.key, op.value);
      return copy;
    }
    return op.op === 'delete' ? undefined : doc;
  }
  const [head, ...rest] = at;
  if (Array.isArray(doc)) {
    const copy = [...doc];
    const next = mutate(copy[head as number], rest, op);
    if (rest.length === 0 && op.op === 'delete') copy.splice(head as number, 1);
    else copy[head as number] = next;
    return copy;
  }
  const copy = { ...(doc as Record<string, unknown>) };
  if (rest.length === 0 && op.op === 'delete') Reflect.deleteProperty(copy, head as string);
  else setOwn(copy, head as string, mutate(copy[head as string], rest, op));
  return copy;
}

const deepValue = fc
  .tuple(
    fc.integer({ min: 100, max: 5000 }),
    fc.constantFrom('array', 'object') as fc.Arbitrary<'array' | 'object'>,
  )
  .map(([d, k]) => JSON.parse(deepJsonText(d, k)) as unknown);

const replacement = fc.oneof(
  { weight: 4, arbitrary: hostileJson },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: deepValue },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      -1,
      0,
      1.5,
      2 ** 31,
      2 ** 53 + 2,
      Number.MAX_SAFE_INTEGER,
      1e308,
      -0,
      '',
      '9'.repeat(400),
      '2025-13-45T99:99:99Z',
      '2025-01-01T00:00:00.000+01:00',
      '{class}',
      '{caption}',
      [],
      {},
      null,
    ),
  },
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: replacement.map((value) => ({ op: 'replace' as const, value })) },
  { weight: 2, arbitrary: fc.constant({ op: 'delete' as const }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString'),
          hostileString,
        ),
        replacement,
      )
      .map(([key, value]) => ({ op: 'add' as const, key, value })),
  },
);

/** An input for one schema: a mutated valid document (when there is one), random JSON, or a random object with the schema's keys. */
const caseArb = fc
  .constantFrom(...SCHEMAS)
  .chain((s) => {
    const examples = EXAMPLES[s.name] ?? [];
    const shape = s.schema instanceof z.ZodObject ? Object.keys(s.schema.shape as object) : [];
    const inputs: fc.Arbitrary<unknown>[] = [hostileJson, deepValue];
    if (shape.length > 0)
      inputs.push(
        fc
          .array(fc.tuple(fc.constantFrom(...shape), replacement), { maxLength: shape.length + 2 })
          .map((kv) => {
            const o: Record<string, unknown> = {};
            for (const [k, v] of kv) setOwn(o, k, v);
            return o;
          }),
      );
    if (examples.length > 0) {
      const mutated = fc
        .constantFrom(...examples)
        .chain((ex) =>
          fc
            .tuple(fc.constantFrom(...pathsOf(ex)), fc.array(op, { minLength: 1, maxLength: 3 }))
            .map(([at, ops]) => ops.reduce<unknown>((d, o) => mutate(d, at, o), ex)),
        );
      // Weighted towards mutations: those get past the first check.
      inputs.push(mutated, mutated, mutated, fc.constantFrom(...examples));
    }
    return fc.tuple(fc.constant(s), fc.oneof(...inputs));
  })
  .map(([s, input]) =>
    labelled({ s, input }, (v) => `${v.s.name} ← ${preview(v.input)} (FGL_FUZZ_SEED=${FUZZ_SEED})`),
  );

function preview(v: unknown): string {
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return '(deeply nested value)';
  }
}

/** Output objects must be plain: no prototype smuggled in through a "__proto__" key. */
function assertPlain(v: unknown, seen = new Set<unknown>(), depth = 0): void {
  if (v === null || typeof v !== 'object' || seen.has(v) || depth > 200) return;
  seen.add(v);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (!Array.isArray(v) && proto !== Object.prototype && proto !== null && !(v instanceof Date))
    throw new Error(`parsed output has a foreign prototype at depth ${depth}`);
  for (const x of Object.values(v)) assertPlain(x, seen, depth + 1);
}

const cacheDir = path.join(os.tmpdir(), 'fgl-fuzz-cache-never-created');
const store = new ModelStore({ cacheDir, allowNetwork: false });

/** Schema-specific safety: accepted paths stay inside their folder, accepted model ids inside the cache. */
function assertContained(name: string, out: unknown): void {
  const relPaths: string[] = [];
  if (name === 'model-manifest.SafeRelativePath') relPaths.push(out as string);
  if (name === 'model-manifest.ModelFile') relPaths.push((out as { path: string }).path);
  if (name === 'model-manifest.ModelManifest')
    relPaths.push(...(out as { files: { path: string }[] }).files.map((f) => f.path));
  for (const rel of relPaths) {
    const posixBase = '/srv/fgl/models/s/1';
    const p = path.posix.join(posixBase, ...rel.split('/'));
    if (!p.startsWith(posixBase + '/'))
      throw new Error(
        `SafeRelativePath accepted ${JSON.stringify(rel)}, which leaves the folder (posix: ${p})`,
      );
    const winBase = 'C:\\fgl\\models\\s\\1';
    const w = path.win32.join(winBase, ...rel.split('/'));
    if (!w.startsWith(winBase + '\\'))
      throw new Error(
        `SafeRelativePath accepted ${JSON.stringify(rel)}, which leaves the folder (win32: ${w})`,
      );
  }
  if (name === 'model-ref.ModelRef') {
    const ref = out as { id: string; revision: string };
    let dir: string | undefined;
    try {
      dir = store.cachePath(ref.id, ref.revision);
    } catch {
      // refused by the model store: fine
    }
    if (dir !== undefined && !dir.startsWith(store.cacheDir + path.sep))
      throw new Error(`ModelRef ${JSON.stringify(ref)} resolves outside the model cache: ${dir}`);
  }
}

let inputs = 0;
let accepted = 0;
let failures = 0;
const perSchema = new Map<string, number>();

function check(s: Named, input: unknown): void {
  inputs++;
  perSchema.set(s.name, (perSchema.get(s.name) ?? 0) + 1);
  try {
    let r: ReturnType<z.ZodType['safeParse']>;
    try {
      r = s.schema.safeParse(input);
    } catch (e) {
      throw new Error(`${s.name}.safeParse threw ${describeThrown(e)}`);
    }
    try {
      s.schema.parse(input);
    } catch (e) {
      if (!(e instanceof z.ZodError)) throw new Error(`${s.name}.parse threw ${describeThrown(e)}`);
      if (r.success) throw new Error(`${s.name}: safeParse accepted what parse rejected`);
    }
    if (!r.success) {
      expect(r.error).toBeInstanceOf(z.ZodError);
      expect(r.error.issues.length).toBeGreaterThan(0);
      return;
    }
    accepted++;
    assertPlain(r.data);
    const again = s.schema.safeParse(INVERSE[s.name] ? INVERSE[s.name]!(r.data) : r.data);
    if (!again.success)
      throw new Error(
        `${s.name}: accepted output does not re-validate: ${again.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    expect(again.data).toEqual(r.data);
    assertContained(s.name, r.data);
  } catch (e) {
    failures++;
    throw e;
  }
}

describe('fuzz: every zod schema in src/shared', () => {
  afterAll(() => {
    recordFigures('fuzz', 'shared zod schemas', {
      inputs,
      failures,
      seed: FUZZ_SEED,
      schemas: SCHEMAS.length,
      accepted,
    });
  });

  it('finds the schemas (and a valid example for each one it mutates)', () => {
    expect(SCHEMAS.length).toBeGreaterThan(40);
    for (const [name, docs] of Object.entries(EXAMPLES)) {
      const s = SCHEMAS.find((x) => x.name === name);
      expect(s, name).toBeDefined();
      for (const d of docs) expect(s!.schema.safeParse(d).error?.issues ?? [], name).toEqual([]);
    }
  });

  it('never throws anything but ZodError, and what it accepts re-validates and stays contained', () => {
    fc.assert(
      fc.property(caseArb, ({ s, input }) => check(s, input)),
      fuzzParams(4000),
    );
    // The run reached every schema and got some inputs accepted (mutations are not all rejections).
    expect(perSchema.size).toBe(SCHEMAS.length);
    expect(accepted).toBeGreaterThan(100);
  });

  it('keeps path tricks out of SafeRelativePath and model ids (targeted)', () => {
    const tricks = [
      '../keys/admin.key',
      'a/../../b',
      '/etc/passwd',
      'a\\..\\b',
      'a/./b',
      'a//b',
      'a\u0000b',
      '',
      '.',
      '..',
      'C:\\x',
      'x/',
    ];
    for (const t of tricks) {
      const name = 'model-manifest.SafeRelativePath';
      check(
        SCHEMAS.find((x) => x.name === name)!,
        t,
      );
      expect(SafeRelativePath.safeParse(t).success, t).toBe(false);
    }
    for (const id of ['../../etc', 'a/../../b', './x', 'a/..']) {
      check(
        SCHEMAS.find((x) => x.name === 'model-ref.ModelRef')!,
        { id },
      );
      // The schema lets these through (see docs/threat-model.md); the model store refuses them.
      if (ModelRef.safeParse({ id }).success)
        expect(() => store.cachePath(id)).toThrow(/Invalid model id/);
    }
  });
});
