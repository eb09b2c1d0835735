import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { io, LayersModel } from '@tensorflow/tfjs';
import { loadTf, type Tf } from './tfjs-backend';

/** The standard tfjs layers-model layout (what tfjs-node's file:// handler and the converter write). */
export const MODEL_JSON_FILE = 'model.json';
export const WEIGHTS_SHARD_FILE = 'group1-shard1of1.bin';

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** temp file + fsync + rename, so a crash never leaves a half-written file under the final name. */
async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

function joinWeightData(data: io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), offset);
    offset += p.byteLength;
  }
  return out;
}

/**
 * An IOHandler that saves to `dir` as model.json + one weight shard. `written` receives the
 * relative names of the files written, weights first so model.json's presence implies complete weights.
 */
export function dirSaveHandler(dir: string, written: string[] = []): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer)
        throw new Error(
          'Cannot save a graph model with a binary topology: only layers models are supported here.',
        );
      await mkdir(dir, { recursive: true });
      const weights = joinWeightData(artifacts.weightData);
      const modelJson: io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'TensorFlow.js',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_SHARD_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.signature ? { signature: artifacts.signature } : {}),
        ...(artifacts.userDefinedMetadata
          ? { userDefinedMetadata: artifacts.userDefinedMetadata }
          : {}),
      };
      const jsonBytes = Buffer.from(JSON.stringify(modelJson));
      await writeFileAtomic(path.join(dir, WEIGHTS_SHARD_FILE), weights);
      await writeFileAtomic(path.join(dir, MODEL_JSON_FILE), jsonBytes);
      await fsyncDir(dir);
      written.push(WEIGHTS_SHARD_FILE, MODEL_JSON_FILE);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: Buffer.byteLength(JSON.stringify(modelJson.modelTopology)),
          weightSpecsBytes: Buffer.byteLength(
            JSON.stringify(modelJson.weightsManifest[0]!.weights),
          ),
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

// Shard names come from model.json, which may come from elsewhere: only plain file names in `dir`.
function safeShardPath(dir: string, name: string): string {
  if (
    name === '' ||
    name.includes('/') ||
    name.includes('\\') ||
    name.includes('\0') ||
    name === '.' ||
    name === '..'
  )
    throw new Error(
      `model.json in ${dir} names weight shard '${name}', which is not a plain file name in that folder: the model folder is damaged or hostile; download it again.`,
    );
  return path.join(dir, name);
}

/** An IOHandler that loads a layers model saved by `dirSaveHandler` (or tfjs-node / the tfjs converter). */
export function dirLoadHandler(tf: Tf, dir: string): io.IOHandler {
  return {
    async load(): Promise<io.ModelArtifacts> {
      const jsonPath = path.join(dir, MODEL_JSON_FILE);
      let modelJson: io.ModelJSON;
      try {
        modelJson = JSON.parse(await readFile(jsonPath, 'utf8')) as io.ModelJSON;
      } catch (e) {
        throw new Error(
          `Cannot read the tfjs model at ${jsonPath}: ${(e as Error).message}. Point at a folder holding ${MODEL_JSON_FILE} and its weight shards.`,
        );
      }
      if (
        typeof modelJson !== 'object' ||
        modelJson === null ||
        modelJson.modelTopology == null ||
        !Array.isArray(modelJson.weightsManifest)
      )
        throw new Error(
          `${jsonPath} is not a tfjs layers model (needs modelTopology and weightsManifest).`,
        );
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          for (const name of group.paths) {
            const shard = safeShardPath(dir, name);
            try {
              buffers.push(await readFile(shard));
            } catch (e) {
              throw new Error(
                `Weight shard ${shard} named in ${MODEL_JSON_FILE} cannot be read (${(e as Error).message}); the model folder is incomplete.`,
              );
            }
          }
          specs.push(...group.weights);
        }
        const joined = joinWeightData(
          buffers.map(
            (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
          ),
        );
        return [specs, joined.buffer as ArrayBuffer];
      });
    },
  };
}

/** Saves a layers model to `dir` (created if needed); returns the relative names of the files written. */
export async function saveModelToDir(model: LayersModel, dir: string): Promise<string[]> {
  const written: string[] = [];
  await model.save(dirSaveHandler(dir, written));
  return written;
}

/** Loads a layers model from `dir` with the given tfjs (default: the one `loadTf` chose). */
export async function loadModelFromDir(dir: string, tf?: Tf): Promise<LayersModel> {
  const t = tf ?? (await loadTf()).tf;
  return t.loadLayersModel(dirLoadHandler(t, dir));
}
