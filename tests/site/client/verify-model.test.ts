import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ModelVerificationError, publicKeyFingerprint, verifyModelFolder } from '../../../src/core/models/verify-model-folder';
import type { ModelManifest } from '../../../src/shared/model-manifest';

const tmp = await mkdtemp(join(tmpdir(), 'fgl-verify-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

const server = generateKeyPairSync('ed25519');
const pem = server.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const trust = { publicKeyPem: pem, pinnedFingerprint: publicKeyFingerprint(pem) };
let n = 0;
let dir = '';

async function writeSignedModel(d: string, mutate: (m: ModelManifest) => void = () => {}, key = server.privateKey) {
  await mkdir(d, { recursive: true });
  const files = { 'model.json': '{"format":"layers-model"}', 'group1-shard1of1.bin': 'weights-bytes' };
  for (const [p, c] of Object.entries(files)) await writeFile(join(d, p), c);
  const manifest: ModelManifest = {
    schemaVersion: 1,
    studyId: 'study-1',
    version: 3,
    roundId: 'r1',
    createdAt: new Date().toISOString(),
    classes: ['a', 'b'],
    kind: 'probe',
    preprocessing: { input: 'clip-image-embeds', normalize: true },
    backbone: { id: 'fgl/tiny-clip', revision: 'main' },
    training: { kind: 'probe', epochs: 1, batchSize: 8, learningRate: 0.01, validationSplit: 0.2, patience: 2, seed: 0, backend: 'cpu', samples: 10 },
    metrics: { valAccuracy: 0.5, valLoss: 1, valSamples: 2, epochs: 1 },
    files: Object.entries(files).map(([path, c]) => ({ path, bytes: Buffer.byteLength(c), sha256: createHash('sha256').update(c).digest('hex') })),
  };
  mutate(manifest);
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  await writeFile(join(d, 'manifest.json'), bytes);
  await writeFile(join(d, 'manifest.sig'), sign(null, bytes, key).toString('base64'));
}

async function refusal(p: Promise<unknown>): Promise<ModelVerificationError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ModelVerificationError);
  return e as ModelVerificationError;
}

beforeEach(async () => {
  dir = join(tmp, `m${n++}`);
  await writeSignedModel(dir);
});

describe('model verification', () => {
  it('accepts an intact model signed by the pinned key', async () => {
    const m = await verifyModelFolder(dir, trust);
    expect(m.version).toBe(3);
  });
  it('refuses a tampered weight file (file_hash)', async () => {
    await writeFile(join(dir, 'group1-shard1of1.bin'), 'weights-BYTES');
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('file_hash');
  });
  it('refuses a truncated download (file_size)', async () => {
    await truncate(join(dir, 'group1-shard1of1.bin'), 4);
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('file_size');
  });
  it('refuses a tampered manifest (signature)', async () => {
    const p = join(dir, 'manifest.json');
    await writeFile(p, (await readFile(p, 'utf8')).replace('"valAccuracy": 0.5', '"valAccuracy": 0.99'));
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('signature');
  });
  it('refuses a manifest signed by another key (signature) and a different server key (key_pin)', async () => {
    const other = generateKeyPairSync('ed25519');
    await writeSignedModel(dir, () => {}, other.privateKey);
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('signature');
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect((await refusal(verifyModelFolder(dir, { ...trust, publicKeyPem: otherPem }))).check).toBe('key_pin');
  });
  it('refuses a downgrade below the version already accepted', async () => {
    expect((await refusal(verifyModelFolder(dir, { ...trust, minVersion: 4 }))).message).toMatch(/version 3 is older than version 4/);
  });
  it('refuses a signed manifest whose file list points outside the folder', async () => {
    await writeSignedModel(dir, (m) => m.files.push({ path: '../outside.bin', bytes: 1, sha256: 'a'.repeat(64) }));
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('manifest');
  });
  it('refuses a listed file that is a symlink leaving the folder', async () => {
    await writeFile(join(tmp, 'secret.bin'), 'weights-bytes');
    await rm(join(dir, 'group1-shard1of1.bin'));
    await symlink(join(tmp, 'secret.bin'), join(dir, 'group1-shard1of1.bin'));
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('path');
  });
  it('refuses files that the signed manifest does not list', async () => {
    await appendFile(join(dir, 'extra.js'), 'alert(1)');
    expect((await refusal(verifyModelFolder(dir, trust))).check).toBe('unexpected_file');
  });
});
