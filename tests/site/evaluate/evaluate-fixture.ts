import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import type { ModelManifest } from '../../../src/shared/model-manifest';
import { decodeImage } from '../../../src/core/image/decode-image';
import type { ClipModel } from '../../../src/core/inference/clip-model';
import { saveModelToDir } from '../../../src/core/tfjs/file-io';
import { publicKeyFingerprint } from '../../../src/core/models/verify-model-folder';
import { trainProbe } from '../../../src/server/training/probe-trainer';

/** A server signing key as a site pins it. */
export function makeServerKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { privateKey, publicKeyPem, fingerprint: publicKeyFingerprint(publicKeyPem), trust: { publicKeyPem, pinnedFingerprint: publicKeyFingerprint(publicKeyPem) } };
}

/** Labelled image files of an ImageFolder, sorted by path. */
export async function listImages(root: string): Promise<{ path: string; label: string }[]> {
  const out: { path: string; label: string }[] = [];
  for (const label of (await readdir(root)).sort())
    for (const f of (await readdir(join(root, label))).sort()) out.push({ path: join(root, label, f), label });
  return out;
}

/** CLIP features the way a site computes them (decode at short side 256, embed). */
export async function embedFiles(clip: ClipModel, files: readonly string[]): Promise<Float32Array[]> {
  const images = [];
  for (const f of files) {
    const d = await decodeImage(f, { resizeShortSide: 256 });
    images.push({ data: d.data, width: d.width, height: d.height, channels: 3 as const });
  }
  return clip.embedImages(images);
}

export async function trainTinyProbe(features: Float32Array[], labels: number[], classes: string[], seed: number, epochs: number): Promise<LayersModel> {
  const r = await trainProbe({
    features,
    labels,
    classes,
    settings: { kind: 'probe', epochs, batchSize: 8, learningRate: 0.05, validationSplit: 0.2, patience: epochs, seed },
    probe: { hidden: 0 },
  });
  return r.model;
}

/** Saves the model and signs a manifest over its files, as the server's publish step does. */
export async function writeSignedModel(
  dir: string,
  model: LayersModel,
  key: KeyObject,
  fields: Pick<ModelManifest, 'studyId' | 'version' | 'classes' | 'kind' | 'preprocessing' | 'backbone'>,
): Promise<ModelManifest> {
  const written = await saveModelToDir(model, dir);
  const files = [];
  for (const path of written.sort()) {
    const bytes = await readFile(join(dir, path));
    files.push({ path, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const manifest: ModelManifest = {
    schemaVersion: 1,
    roundId: `round-${fields.version}`,
    createdAt: new Date().toISOString(),
    training: { kind: fields.kind, epochs: 1, batchSize: 8, learningRate: 0.05, validationSplit: 0.2, patience: 1, seed: 0, backend: 'cpu', samples: 1 },
    metrics: { valAccuracy: 1, valLoss: 0, valSamples: 1, epochs: 1 },
    ...fields,
    files,
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  await writeFile(join(dir, 'manifest.json'), bytes);
  await writeFile(join(dir, 'manifest.sig'), sign(null, bytes, key).toString('base64'));
  return manifest;
}
