import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE, type ModelManifest, SIGNATURE_FILE } from '../../shared/model-manifest';
import type { Clock } from '../../shared/clock';
import type { StudyManifest } from '../../shared/study';
import type { ServerSigningKey } from '../auth/server-signing-key';
import { type DataLayout, modelVersionDir } from '../store/data-layout';
import { fsyncDir, fsyncTree } from '../../core/fs/durable-file';
import { ownerOnlyDir, ownerOnlyTree } from '../../core/fs/owner-only';
import type { ServerStore, StoredModel } from '../store/server-store';
import { randomIdPart } from '../auth/secret-token';
import { listModelFiles } from './model-files';
import { manifestBytes, signManifest } from './sign-manifest';
import { verifyModelFolder } from '../../core/models/verify-model-folder';

/** What training knows about the model it wrote; the rest of the manifest comes from the round. */
export type TrainedModelInfo = Pick<
  ModelManifest,
  'kind' | 'preprocessing' | 'backbone' | 'training' | 'metrics'
>;

export type PublishModelInput = {
  store: ServerStore;
  /** Stamps the manifest's `createdAt`. */
  clock: Clock;
  layout: DataLayout;
  signingKey: ServerSigningKey;
  study: StudyManifest;
  roundId: string;
  /** Folder the trainer wrote (model.json + weight shards, …); copied, never moved. */
  sourceDir: string;
  model: TrainedModelInfo;
};

/**
 * Publish a trained model as the study's next version: copy the folder into a staging dir,
 * write manifest.json (sha256 + size of every file) and manifest.sig (Ed25519 over its exact
 * bytes), fsync, verify it as a site would, rename it to models/<study>/<version>, and only then
 * insert the row. A crash before the row leaves at most an orphan folder that the next publish
 * of that version replaces.
 */
export async function publishModel(a: PublishModelInput): Promise<StoredModel> {
  const version = await a.store.models.latestVersion(a.study.id) + 1;
  await fs.mkdir(a.layout.tmpDir, { recursive: true });
  const staging = path.join(a.layout.tmpDir, `publish-${a.study.id}-${version}-${randomIdPart(4)}`);
  try {
    await fs.cp(a.sourceDir, staging, { recursive: true, verbatimSymlinks: true });
    await fs.rm(path.join(staging, MANIFEST_FILE), { force: true });
    await fs.rm(path.join(staging, SIGNATURE_FILE), { force: true });
    const files = await listModelFiles(staging);
    if (files.length === 0)
      throw new Error(`trained model folder ${a.sourceDir} is empty; nothing to publish`);
    const manifest: ModelManifest = {
      schemaVersion: 1,
      studyId: a.study.id,
      version,
      roundId: a.roundId,
      createdAt: a.clock().toISOString(),
      classes: a.study.classes,
      ...a.model,
      files,
    };
    const bytes = manifestBytes(manifest);
    await fs.writeFile(path.join(staging, MANIFEST_FILE), bytes);
    await fs.writeFile(
      path.join(staging, SIGNATURE_FILE),
      signManifest(bytes, a.signingKey.privateKey),
    );
    await ownerOnlyTree(staging);
    await fsyncTree(staging);
    // Self-check: never publish something a site would refuse.
    await verifyModelFolder(staging, {
      publicKeyPem: a.signingKey.publicKeyPem,
      pinnedFingerprint: a.signingKey.fingerprint,
    });

    const target = modelVersionDir(a.layout, a.study.id, version);
    await ownerOnlyDir(path.dirname(target));
    // An existing folder without a row is an orphan of a crashed publish.
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(staging, target);
    await fsyncDir(path.dirname(target));
    const record: StoredModel = {
      studyId: a.study.id,
      version,
      roundId: a.roundId,
      manifestSha256: createHash('sha256').update(bytes).digest('hex'),
      publishedAt: manifest.createdAt,
      dir: target,
    };
    await a.store.models.insert(record);
    return record;
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
